// What the host tells the persistent kernel at launch: the ring geometry, retries, the idle nap cap and
// the wrapper stages (fault, slow, crash) in front of the leaf handler whose PTX is loaded. Encoded as the
// 32-bit words of `gq::ConsumerParams` (kernels/persistent_consumer.cu), in its field order.
import { EngineUnavailableError } from '../../core/errors.js';
import type { RingLayout } from '../../core/slot-layout.js';
import { faultThreshold } from '../../handlers/fault/fault.js';
import type { HandlerParams, HandlerSpec } from '../../handlers/handler.js';

export const MAX_WRAPPERS = 4;
const WRAPPER_WORDS = 5;
const HEAD_WORDS = 9;
/** sizeof(gq::ConsumerParams); the kernel test checks the PTX declares the same. */
export const LAUNCH_PARAM_BYTES = 4 * (HEAD_WORDS + MAX_WRAPPERS * WRAPPER_WORDS);

const WrapperKind = { FAULT: 1, SLOW: 2, CRASH: 3 } as const;
const TWO_POW_32 = 4294967296;

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
function unwrap(spec: HandlerSpec): { stages: Stage[]; leaf: string } {
  const stages: Stage[] = [];
  let at = spec;
  for (;;) {
    const p: HandlerParams = at.params;
    if (at.name === 'fault') {
      const failAttempts = p.failAttempts as number;
      const [lo, hi] = split64(faultThreshold(p.failRate as number));
      stages.push({ kind: WrapperKind.FAULT, words: [p.seed as number, Number.isFinite(failAttempts) ? failAttempts : 0xffffffff, lo, hi] });
    } else if (at.name === 'crash') {
      const crashAttempts = p.crashAttempts as number;
      const [lo, hi] = split64(faultThreshold(p.crashRate as number));
      stages.push({ kind: WrapperKind.CRASH, words: [p.seed as number, Number.isFinite(crashAttempts) ? crashAttempts : 0xffffffff, lo, hi] });
    } else if (at.name === 'slow') {
      const [lo, hi] = split64(Math.round((p.delayUs as number) * 1000));
      stages.push({ kind: WrapperKind.SLOW, words: [lo, hi, 0, 0] });
    } else {
      return { stages, leaf: at.name };
    }
    at = p.inner as HandlerSpec;
  }
}

export function planKernel(layout: RingLayout, spec: HandlerSpec, maxRetries: number, idleSleepMaxNs: number): KernelPlan {
  const { stages, leaf } = unwrap(spec);
  if (stages.length > MAX_WRAPPERS) {
    throw new EngineUnavailableError(`the cuda engine runs at most ${MAX_WRAPPERS} wrapper handlers around one handler; ${spec.name} has ${stages.length}`);
  }
  const words = new Uint32Array(LAUNCH_PARAM_BYTES / 4);
  words.set([
    layout.shards,
    layout.shardCapacity,
    layout.slotStride,
    layout.slotsOffset,
    layout.resultOffset,
    layout.resultBytes,
    maxRetries,
    idleSleepMaxNs,
    stages.length,
  ]);
  stages.forEach((stage, i) => words.set([stage.kind, ...stage.words], HEAD_WORDS + i * WRAPPER_WORDS));
  return { leaf, params: new Uint8Array(words.buffer) };
}
