// The launch-per-batch baseline of `gpuqueue bench --engine cuda`: what a user writes by hand instead of a
// queue. The host packs a batch into one buffer, copies it to the device, launches this kernel (one
// thread per message, running the same `gq::process_message` the persistent kernel runs), copies the
// results back. scripts/build-kernels.mjs builds it once per leaf handler into baseline_<leaf>.ptx with
// the persistent kernel's nvcc flags; bench/src/cuda-batch-layout.ts is the host's side of the layout.
//
// gq_baseline_batch(buffer, p)
//   inputs:  buffer[0, 4 × count): payload lengths (u32); payload i at
//            buffer[p.payloads_offset + i × p.payload_stride, + length), 16-byte aligned and padded
//   outputs: at buffer[p.output_offset]: statuses (u32 × count), then result lengths (u32 × count) at
//            p.result_lens_offset, then result i at p.results_offset + i × p.result_stride (p.result_cap bytes)
//   status:  per message, what process_message returned (HandlerStatus); msg_id = index, attempt = 0
//   slots:   none: no ring, no retries, no dead letters (that is the point of the comparison)
#include "../../src/engines/cuda/kernels/handler_abi.cuh"

namespace gq {

/// Byte offsets into the device buffer: every one a multiple of 16 (the handler's 16-byte loads).
struct BaselineParams {
  uint32_t count;
  uint32_t payload_stride;
  uint32_t payloads_offset;
  uint32_t output_offset;
  uint32_t result_lens_offset;
  uint32_t results_offset;
  uint32_t result_stride;
  uint32_t result_cap;
};

}  // namespace gq

extern "C" __global__ void __launch_bounds__(256) gq_baseline_batch(uint8_t* buffer, gq::BaselineParams p) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.count) return;
  const uint32_t* lens = reinterpret_cast<const uint32_t*>(buffer);
  const gq::MsgView in{buffer + p.payloads_offset + static_cast<uint64_t>(i) * p.payload_stride, lens[i], i, 0};
  uint8_t* output = buffer + p.output_offset;
  gq::ResultView out{output + p.results_offset + static_cast<uint64_t>(i) * p.result_stride, p.result_cap, 0};
  const int status = gq::process_message(in, &out);
  reinterpret_cast<uint32_t*>(output)[i] = static_cast<uint32_t>(status);
  reinterpret_cast<uint32_t*>(output + p.result_lens_offset)[i] = out.len;
}
