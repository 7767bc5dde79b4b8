// cuda: a user handler given as CUDA C++ source, defining `gq::process_message` (the device signature of
// src/engines/cuda/kernels/handler_abi.cuh, already declared for it). It runs on the cuda engine only,
// which compiles it into its persistent kernel with NVRTC (engines/cuda/user-kernel.ts: cached on disk,
// compile errors with the line in this source); other engines refuse it when the queue opens.
import { describeValue, InvalidArgumentError } from '../../core/errors.js';
import type { HandlerDefinition, HandlerParams } from '../handler.js';

export interface CudaSourceParams extends HandlerParams {
  source: string;
  resultBytes: number | undefined;
}

export const cudaSource: HandlerDefinition<CudaSourceParams> = {
  name: 'cuda',
  summary:
    'user CUDA C++: `source` defines __device__ int gq::process_message(const gq::MsgView&, gq::ResultView*) (cuda engine, compiled with NVRTC)',
  params: (input) => {
    const source = input.source;
    if (typeof source !== 'string' || !/\bprocess_message\s*\(/.test(source)) {
      throw new InvalidArgumentError(
        `cuda handler: source must be CUDA C++ text defining __device__ int process_message(const MsgView& in, ResultView* out) inside namespace gq; got ${describeValue(source)}`,
      );
    }
    const resultBytes = input.resultBytes;
    if (resultBytes !== undefined && (typeof resultBytes !== 'number' || !Number.isInteger(resultBytes) || resultBytes < 1)) {
      throw new InvalidArgumentError(`cuda handler: resultBytes must be a positive integer; got ${describeValue(resultBytes)}`);
    }
    return { source, resultBytes };
  },
  resultBytes: (slotBytes, p) => p.resultBytes ?? slotBytes,
  js: () => {
    throw new InvalidArgumentError("handler cuda runs on the cuda engine only: open the queue with backend: 'cuda'");
  },
};
