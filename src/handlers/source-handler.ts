// A user handler given as source for one GPU engine's compiler (`wgsl`, `cuda`): the same parameters
// (`source`, an optional `resultBytes`) checked the same way, and no JS implementation, so other engines
// refuse it (engines/select.ts says which one it needs).
import { describeValue, InvalidArgumentError } from '../core/errors.js';
import type { HandlerDefinition, HandlerParams } from './handler.js';

export interface SourceParams extends HandlerParams {
  source: string;
  resultBytes: number | undefined;
}

export interface SourceHandlerSpec {
  name: string;
  summary: string;
  /** The only engine that can run it. */
  engine: string;
  /** Whether the text looks like it defines process_message. */
  definesEntry(source: string): boolean;
  /** What `source` must be, for the error (after "source must be "). */
  sourceRule: string;
}

export function sourceHandler(spec: SourceHandlerSpec): HandlerDefinition<SourceParams> {
  return {
    name: spec.name,
    summary: spec.summary,
    params: (input) => {
      const source = input.source;
      if (typeof source !== 'string' || !spec.definesEntry(source)) {
        throw new InvalidArgumentError(`${spec.name} handler: source must be ${spec.sourceRule}; got ${describeValue(source)}`);
      }
      const resultBytes = input.resultBytes;
      if (resultBytes !== undefined && (typeof resultBytes !== 'number' || !Number.isInteger(resultBytes) || resultBytes < 1)) {
        throw new InvalidArgumentError(`${spec.name} handler: resultBytes must be a positive integer; got ${describeValue(resultBytes)}`);
      }
      return { source, resultBytes };
    },
    resultBytes: (slotBytes, p) => p.resultBytes ?? slotBytes,
    js: () => {
      throw new InvalidArgumentError(
        `handler ${spec.name} runs on the ${spec.engine} engine only: open the queue with backend: '${spec.engine}'`,
      );
    },
  };
}
