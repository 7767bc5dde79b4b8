// cuda: a user handler given as CUDA C++ source, defining `gq::process_message` (the device signature of
// src/engines/cuda/kernels/handler_abi.cuh, already declared for it). It runs on the cuda engine only,
// which compiles it into its persistent kernel with NVRTC (engines/cuda/user-kernel.ts: cached on disk,
// compile errors with the line in this source); other engines refuse it when the queue opens.
import { sourceHandler } from '../source-handler.js';

export const cudaSource = sourceHandler({
  name: 'cuda',
  summary:
    'user CUDA C++: `source` defines __device__ int gq::process_message(const gq::MsgView&, gq::ResultView*) (cuda engine, compiled with NVRTC)',
  engine: 'cuda',
  definesEntry: (source) => /\bprocess_message\s*\(/.test(source),
  sourceRule: 'CUDA C++ text defining __device__ int process_message(const MsgView& in, ResultView* out) inside namespace gq',
});
