// slow, device twin of slow.ts: a wrapper that busy-waits before each attempt, so a test or benchmark can
// make the consumer slower than the producer (UC-6). Linked into every kernel; the host passes it as a
// WrapperStage when the queue's handler is `slow`.
//
// slow_spin
//   inputs:  stage.a | stage.b << 32 = delay in nanoseconds (delayUs × 1000)
//   outputs: none; returns once the GPU's global timer has moved on by the delay
//   status:  none (the inner handler's status stands)
//   slots:   none
#include "../../engines/cuda/kernels/handler_abi.cuh"

namespace gq {

__device__ void slow_spin(const WrapperStage& stage) {
  const uint64_t delay_ns = static_cast<uint64_t>(stage.a) | (static_cast<uint64_t>(stage.b) << 32);
  const uint64_t until = global_timer_ns() + delay_ns;
  // Busy on purpose (the handler stands for compute), but napping between looks keeps the SM's issue
  // slots for other warps.
  while (global_timer_ns() < until) __nanosleep(100);
}

}  // namespace gq
