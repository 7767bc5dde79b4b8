// What the host tells the persistent kernel at launch: the ring geometry, retries, the idle nap cap, the
// consumer count, the device scratch, how blocks wake, and the wrapper stages (fault, slow, crash) in
// front of the leaf handler whose PTX is loaded. Encoded as the 32-bit words of `gq::ConsumerParams`
// (kernels/persistent_consumer.cu), in its field order.
import { EngineUnavailableError } from '../../core/errors.js';
import { alignUp, type RingLayout } from '../../core/slot-layout.js';
import { faultThreshold } from '../../handlers/fault/fault.js';
import type { HandlerParams, HandlerSpec } from '../../handlers/handler.js';

export const MAX_WRAPPERS = 4;
const WRAPPER_WORDS = 5;
const HEAD_WORDS = 19;
/** sizeof(gq::ConsumerParams); the kernel test checks the PTX declares the same. */
export const LAUNCH_PARAM_BYTES = 4 * (HEAD_WORDS + MAX_WRAPPERS * WRAPPER_WORDS);

const WrapperKind = { FAULT: 1, SLOW: 2, CRASH: 3, HANG: 4 } as const;
const TWO_POW_32 = 4294967296;

/** How a consuming block learns that its shard may have new work (`gq::WakeMode`). */
export const WakeMode = { WATCH: 0, POLL: 1, LEGACY: 2 } as const;
export type WakeModeName = Lowercase<keyof typeof WakeMode>;

/**
 * Device scratch (`gq::Scratch`): an 8 KiB head (broadcast word; from byte 128 a progress word per
 * consuming block; from 4096 the watcher's copy of them), then one staged payload per thread.
 */
export const SCRATCH_STAGING_OFFSET = 8192;
/** One progress word per consuming block between bytes 128 and 4096 of the scratch. */
export const MAX_CONSUMERS = (4096 - 128) / 4;

export interface LaunchShape {
  consumers: number;
  blockThreads: number;
  /** Device address of the scratch (see SCRATCH_STAGING_OFFSET). */
  scratch: bigint;
  wakeMode: number;
  /** Int32 index of the producers' publish counter in the control block; 0 = none. */
  publishWord: number;
  /** Whether payloads are staged in dynamic shared memory (else in the scratch). */
  stagingShared: boolean;
}

/** Bytes of device scratch the kernel needs for a ring cut and block size (plus its trace records when traced). */
export const scratchBytes = (layout: RingLayout, consumers: number, blockThreads: number, trace = false): number =>
  SCRATCH_STAGING_OFFSET + consumers * blockThreads * layout.payloadArea + (trace ? consumers * TRACE_RECORDS * TRACE_RECORD_BYTES : 0);

/** A GQ_TRACE build's per-block ring of `gq::TraceRecord`s, after the staging area. */
export const TRACE_RECORDS = 64;
export const TRACE_RECORD_BYTES = 64;
export const TRACE_FIELDS = ['msgId', 'probeIssued', 'probeDone', 'windowDone', 'staged', 'handled', 'done', 'handlerCycles'] as const;

/** Dynamic shared memory of a block: its cursors (rounded up to 16 B), then its staged payloads when they go there. */
export const dynamicSharedBytes = (layout: RingLayout, consumers: number, blockThreads: number, stagingShared: boolean): number =>
  alignUp(4 * Math.ceil(layout.shards / consumers), 16) + (stagingShared ? blockThreads * layout.payloadArea : 0);

export interface KernelPlan {
  /** The leaf handler: its PTX is `<kernelsDir>/<leaf>.ptx`. */
  leaf: string;
  params: Uint8Array;
}

interface Stage {
  kind: number;
  words: [number, number, number, number];
}

const split64 = (n: number): [number, number] => [n % TWO_POW_32, Math.floor(n / TWO_POW_32)];

/** The wrapper chain of a handler spec, outermost first, and the leaf it ends in. */
function unwrap(spec: HandlerSpec): { stages: Stage[]; leaf: string; leafSpec: HandlerSpec } {
  const stages: Stage[] = [];
  let at = spec;
  for (;;) {
    const p: HandlerParams = at.params;
    if (at.name === 'fault') {
      const failAttempts = p.failAttempts as number;
      const [lo, hi] = split64(faultThreshold(p.failRate as number));
      stages.push({
        kind: WrapperKind.FAULT,
        words: [p.seed as number, Number.isFinite(failAttempts) ? failAttempts : 0xffffffff, lo, hi],
      });
    } else if (at.name === 'crash') {
      const crashAttempts = p.crashAttempts as number;
      const [lo, hi] = split64(faultThreshold(p.crashRate as number));
      stages.push({
        kind: p.how === 'hang' ? WrapperKind.HANG : WrapperKind.CRASH,
        words: [p.seed as number, Number.isFinite(crashAttempts) ? crashAttempts : 0xffffffff, lo, hi],
      });
    } else if (at.name === 'slow') {
      const [lo, hi] = split64(Math.round((p.delayUs as number) * 1000));
      stages.push({ kind: WrapperKind.SLOW, words: [lo, hi, 0, 0] });
    } else {
      return { stages, leaf: at.name, leafSpec: at };
    }
    at = p.inner as HandlerSpec;
  }
}

/** The leaf handler under a spec's wrappers: its PTX is `<kernelsDir>/<leaf>.ptx`. */
export const handlerLeaf = (spec: HandlerSpec): string => unwrap(spec).leaf;

/** The leaf handler's spec (its parameters: the source of a `cuda` handler). */
export const handlerLeafSpec = (spec: HandlerSpec): HandlerSpec => unwrap(spec).leafSpec;

export function planKernel(
  layout: RingLayout,
  spec: HandlerSpec,
  maxRetries: number,
  idleSleepMaxNs: number,
  shape: LaunchShape,
): KernelPlan {
  const { stages, leaf } = unwrap(spec);
  if (stages.length > MAX_WRAPPERS) {
    throw new EngineUnavailableError(
      `the cuda engine runs at most ${MAX_WRAPPERS} wrapper handlers around one handler; ${spec.name} has ${stages.length}`,
    );
  }
  const words = new Uint32Array(LAUNCH_PARAM_BYTES / 4);
  words.set([
    layout.shards,
    layout.shardCapacity,
    layout.statesOffset,
    layout.headersOffset,
    layout.outcomesOffset,
    layout.payloadsOffset,
    layout.resultsOffset,
    layout.resultArea,
    layout.resultBytes,
    maxRetries,
    idleSleepMaxNs,
    shape.consumers,
    layout.payloadArea,
    Number(shape.scratch & 0xffffffffn),
    Number(shape.scratch >> 32n),
    shape.wakeMode,
    shape.publishWord,
    shape.stagingShared ? 1 : 0,
    stages.length,
  ]);
  for (const [i, stage] of stages.entries()) words.set([stage.kind, ...stage.words], HEAD_WORDS + i * WRAPPER_WORDS);
  return { leaf, params: new Uint8Array(words.buffer) };
}
