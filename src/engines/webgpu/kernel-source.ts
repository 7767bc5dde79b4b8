// The WGSL module for a handler spec, assembled from real files: the kernel (kernels/batch_consumer.wgsl)
// with the ABI and helpers it is written against, every wrapper handler's .wgsl, and the leaf handler's
// src/handlers/<name>/<name>.wgsl (or a user's source). Wrapper parameters travel in the batch uniform,
// encoded here; the slow wrapper becomes a host-side hold (WGSL has no clock). Compile messages are
// mapped back to the file and line they came from.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EngineUnavailableError, InvalidArgumentError } from '../../core/errors.js';
import { faultThreshold } from '../../handlers/fault/fault.js';
import type { HandlerParams, HandlerSpec } from '../../handlers/handler.js';
import type { GpuCompilationMessage } from './gpu-api.js';

/** Wrapper stages the kernel runs (batch_consumer.wgsl MAX_WRAPPERS, WRAPPER_FAULT). */
export const MAX_WRAPPERS = 4;
const WrapperKind = { FAULT: 1, CRASH: 2 } as const;
/** The outcome status the kernel writes when the crash wrapper fired (batch_consumer.wgsl OUTCOME_KILLED_CONSUMER). */
export const OUTCOME_KILLED_CONSUMER = 0xffffffff;
const TWO_POW_32 = 4294967296;
/** The handler spec name under which a user's WGSL source is run (`{ name: 'wgsl', source }`). */
export const USER_WGSL_HANDLER = 'wgsl';

/** Files every module is built from, in order, relative to src/ (the leaf handler goes before the kernel). */
const PRELUDE = [
  'engines/webgpu/kernels/slot_layout.wgsl',
  'engines/webgpu/kernels/handler_abi.wgsl',
  'engines/webgpu/kernels/f32_exact.wgsl',
];
const WRAPPERS = ['handlers/fault/fault.wgsl', 'handlers/crash/crash.wgsl'];
const KERNEL = 'engines/webgpu/kernels/batch_consumer.wgsl';
export const ENTRY_POINT = 'consume_batch';

export interface WrapperStage {
  kind: number;
  words: [number, number, number, number];
}

export interface KernelSource {
  /** The leaf handler's name (or `wgsl` for a user's source). */
  leaf: string;
  code: string;
  /** Fault and crash stages for the batch uniform, outermost first. */
  stages: WrapperStage[];
  /** Host-side hold per attempt, ms: the slow wrapper's delay (summed when nested). */
  holdMsPerAttempt: number;
  /** Maps a line of `code` (1-based) to the file and line it came from. */
  origin(line: number): { file: string; line: number };
}

/** Where src/ is: beside this file when run from the sources, else the package's src/ (dist/src/engines/webgpu → ../../../../src). */
function sourceRoot(): URL {
  const candidates = [new URL('../../', import.meta.url), new URL('../../../../src/', import.meta.url)];
  const found = candidates.find((root) => existsSync(new URL(KERNEL, root)));
  if (!found) {
    const tried = candidates.map((root) => fileURLToPath(new URL(KERNEL, root))).join(', ');
    throw new EngineUnavailableError(`the webgpu engine's WGSL files are missing from this installation (looked for ${tried})`);
  }
  return found;
}

const readSource = (root: URL, file: string): string => readFileSync(new URL(file, root), 'utf8');

/** Why the webgpu engine cannot run a handler (a wrapper or leaf with no WGSL twin), or undefined when it can. */
export function unsupportedHandlerReason(spec: HandlerSpec): string | undefined {
  const { stages, leaf } = unwrap(spec);
  if (stages.length > MAX_WRAPPERS)
    return `it runs at most ${MAX_WRAPPERS} fault or crash wrappers around one handler; ${spec.name} has ${stages.length}`;
  if (leaf.name === USER_WGSL_HANDLER) return undefined;
  const file = `handlers/${leaf.name}/${leaf.name}.wgsl`;
  let root: URL;
  try {
    root = sourceRoot();
  } catch (error) {
    return (error as Error).message;
  }
  if (!existsSync(new URL(file, root))) {
    return `handler ${leaf.name} has no WGSL implementation (src/${file}); give WGSL source as { name: '${USER_WGSL_HANDLER}', source }`;
  }
  return undefined;
}

export function buildKernelSource(spec: HandlerSpec): KernelSource {
  const unsupported = unsupportedHandlerReason(spec);
  if (unsupported) throw new EngineUnavailableError(`the webgpu engine cannot run ${spec.name}: ${unsupported}`);
  const { stages, holdMsPerAttempt, leaf } = unwrap(spec);
  const root = sourceRoot();
  const parts: { file: string; text: string }[] = [...PRELUDE, ...WRAPPERS].map((file) => ({
    file: `src/${file}`,
    text: readSource(root, file),
  }));
  if (leaf.name === USER_WGSL_HANDLER) {
    const source = leaf.params.source;
    if (typeof source !== 'string' || source.trim() === '') {
      throw new InvalidArgumentError(
        'handler wgsl: `source` must be WGSL text defining fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32',
      );
    }
    parts.push({ file: 'handler.wgsl', text: source });
  } else {
    const file = `handlers/${leaf.name}/${leaf.name}.wgsl`;
    parts.push({ file: `src/${file}`, text: readSource(root, file) });
  }
  parts.push({ file: `src/${KERNEL}`, text: readSource(root, KERNEL) });
  // Each part starts on a fresh line; remember where, to map compile messages back.
  const starts: { file: string; firstLine: number }[] = [];
  let line = 1;
  const texts: string[] = [];
  for (const part of parts) {
    const text = part.text.endsWith('\n') ? part.text : `${part.text}\n`;
    starts.push({ file: part.file, firstLine: line });
    texts.push(text);
    line += text.split('\n').length - 1;
  }
  return {
    leaf: leaf.name,
    code: texts.join(''),
    stages,
    holdMsPerAttempt,
    origin: (n) => {
      let at = starts[0] as { file: string; firstLine: number };
      for (const s of starts) if (s.firstLine <= n) at = s;
      return { file: at.file, line: n - at.firstLine + 1 };
    },
  };
}

/** Compile messages as `file:line:column: type: message`, lines of the file they came from. */
export function describeCompilationMessages(source: KernelSource, messages: readonly GpuCompilationMessage[]): string {
  return messages
    .map((m) => {
      const where = m.lineNum > 0 ? source.origin(m.lineNum) : undefined;
      return `${where ? `${where.file}:${where.line}:${m.linePos}: ` : ''}${m.type}: ${m.message}`;
    })
    .join('\n');
}

/** The wrapper chain of a spec, outermost first, and the leaf it ends in. */
function unwrap(spec: HandlerSpec): { stages: WrapperStage[]; holdMsPerAttempt: number; leaf: HandlerSpec } {
  const stages: WrapperStage[] = [];
  let holdMsPerAttempt = 0;
  let at = spec;
  for (;;) {
    const p: HandlerParams = at.params;
    if (at.name === 'fault' || at.name === 'crash') {
      const fault = at.name === 'fault';
      const attempts = (fault ? p.failAttempts : p.crashAttempts) as number;
      const threshold = faultThreshold((fault ? p.failRate : p.crashRate) as number);
      stages.push({
        kind: fault ? WrapperKind.FAULT : WrapperKind.CRASH,
        words: [
          p.seed as number,
          Number.isFinite(attempts) ? Math.min(attempts, 0xffffffff) : 0xffffffff,
          threshold % TWO_POW_32,
          Math.floor(threshold / TWO_POW_32),
        ],
      });
    } else if (at.name === 'slow') {
      holdMsPerAttempt += (p.delayUs as number) / 1000;
    } else {
      return { stages, holdMsPerAttempt, leaf: at };
    }
    at = p.inner as HandlerSpec;
  }
}
