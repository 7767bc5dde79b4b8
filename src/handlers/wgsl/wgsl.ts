// wgsl: a user handler given as WGSL source (`process_message`, the signature of handler_abi.wgsl). It
// runs on the webgpu engine only, which compiles it into its batch kernel and reports compile errors with
// the line in this source; other engines refuse it when they start.
import { describeValue, InvalidArgumentError } from '../../core/errors.js';
import type { HandlerDefinition, HandlerParams } from '../handler.js';

export interface WgslParams extends HandlerParams {
  source: string;
  resultBytes: number | undefined;
}

export const wgsl: HandlerDefinition<WgslParams> = {
  name: 'wgsl',
  summary: 'user WGSL: `source` defines fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 (webgpu engine)',
  params: (input) => {
    const source = input.source;
    if (typeof source !== 'string' || !source.includes('fn process_message(')) {
      throw new InvalidArgumentError(`wgsl handler: source must be WGSL text defining fn process_message(…); got ${describeValue(source)}`);
    }
    const resultBytes = input.resultBytes;
    if (resultBytes !== undefined && (typeof resultBytes !== 'number' || !Number.isInteger(resultBytes) || resultBytes < 1)) {
      throw new InvalidArgumentError(`wgsl handler: resultBytes must be a positive integer; got ${describeValue(resultBytes)}`);
    }
    return { source, resultBytes };
  },
  resultBytes: (slotBytes, p) => p.resultBytes ?? slotBytes,
  js: () => {
    throw new InvalidArgumentError("handler wgsl runs on the webgpu engine only: open the queue with backend: 'webgpu'");
  },
};
