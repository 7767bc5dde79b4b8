// crash, device twin of crash.ts: a wrapper that kills its consumer on chosen messages (by id, the same
// hash as fault), here by trapping, which kills the CUDA context: the test of what happens when a GPU
// consumer dies holding messages (the host fails over to cpu workers, which re-run them).
//
// crash_traps
//   inputs:  stage.a = seed; stage.b = crashAttempts (0xffffffff = every attempt);
//            stage.c | stage.d << 32 = threshold = floor(crashRate × 2^32)
//   outputs: none: when attempt < crashAttempts and faultHash(id, seed) < threshold it does not return:
//            stage kind CRASH traps, HANG spins for good (napping, so it costs the SM little)
//   status:  CRASH: the host sees CUDA_ERROR_LAUNCH_FAILED (or ILLEGAL_INSTRUCTION) for the whole kernel;
//            HANG: the block stops making progress, so the heartbeat stops and the host's watchdog fires
//   slots:   the slot stays INFLIGHT with ATTEMPTS counted; its shard's later slots stay READY
#include "../../engines/cuda/kernels/handler_abi.cuh"

namespace gq {

__device__ void crash_maybe(const WrapperStage& stage, uint64_t msg_id, uint32_t attempt) {
  // The same decision as fault_fails, with this stage's seed, attempts and threshold.
  if (!fault_fails(stage, msg_id, attempt)) return;
  if (stage.kind == WrapperKind::HANG) {
    for (;;) __nanosleep(1000000);
  }
  __trap();
}

}  // namespace gq
