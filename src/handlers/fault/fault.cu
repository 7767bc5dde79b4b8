// fault, device twin of fault.ts: a wrapper that fails a chosen fraction of messages, decided by the
// message id alone (faultHash below equals the JS one bit for bit), so every engine dead-letters the same
// messages. Linked into every kernel; the host passes it as a WrapperStage when the queue's handler is
// `fault`, and the kernel runs the inner handler only when this returns false.
//
// fault_fails
//   inputs:  stage.a = seed; stage.b = failAttempts (0xffffffff = every attempt);
//            stage.c | stage.d << 32 = threshold = floor(failRate × 2^32) (2^32 when failRate is 1)
//   outputs: true when attempt < failAttempts and faultHash(id, seed) < threshold
//   status:  the kernel records FAILED for an attempt this fails
//   slots:   none
#include "../../engines/cuda/kernels/handler_abi.cuh"

namespace gq {

/// murmur3's 32-bit finalizer (partitioners.ts mix32).
__device__ __forceinline__ uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

__device__ __forceinline__ uint32_t fault_hash(uint64_t id, uint32_t seed) {
  const uint32_t lo = static_cast<uint32_t>(id);
  const uint32_t hi = static_cast<uint32_t>(id >> 32);
  return mix32(lo ^ ((hi ^ seed) * 0x9e3779b9u));
}

__device__ bool fault_fails(const WrapperStage& stage, uint64_t msg_id, uint32_t attempt) {
  const uint64_t threshold = static_cast<uint64_t>(stage.c) | (static_cast<uint64_t>(stage.d) << 32);
  return attempt < stage.b && fault_hash(msg_id, stage.a) < threshold;
}

}  // namespace gq
