// checksum, device twin of checksum.ts: 32-bit FNV-1a of the payload as 4 little-endian bytes.
//
// process_message
//   inputs:  in.payload[0, in.len)
//   outputs: out->out[0, 4) = FNV-1a (offset 0x811c9dc5, prime 0x01000193), little-endian; out->len = 4
//   status:  OK; RESULT_TOO_LARGE when out->cap < 4
//   slots:   none (the kernel owns every slot transition)
#include "../../engines/cuda/kernels/handler_abi.cuh"

namespace gq {

constexpr uint32_t FNV1A_OFFSET = 0x811c9dc5u;
constexpr uint32_t FNV1A_PRIME = 0x01000193u;

__device__ __forceinline__ uint32_t fnv1a_word(uint32_t h, uint32_t word, uint32_t bytes) {
  for (uint32_t i = 0; i < bytes; i++) h = (h ^ ((word >> (8 * i)) & 0xffu)) * FNV1A_PRIME;
  return h;
}

__device__ int process_message(const MsgView& in, ResultView* out) {
  if (out->cap < 4) return HandlerStatus::RESULT_TOO_LARGE;
  // 16-byte loads (the payload is 16-aligned and padded): over PCIe, few wide reads beat many narrow ones.
  const uint4* p = reinterpret_cast<const uint4*>(in.payload);
  uint32_t h = FNV1A_OFFSET;
  uint32_t left = in.len;
  for (uint32_t w = 0; left > 0; w++) {
    const uint4 v = p[w];
    const uint32_t words[4] = {v.x, v.y, v.z, v.w};
    for (int k = 0; k < 4 && left > 0; k++) {
      const uint32_t n = left < 4 ? left : 4;
      h = fnv1a_word(h, words[k], n);
      left -= n;
    }
  }
  *reinterpret_cast<uint32_t*>(out->out) = h;  // the GPU is little-endian, as the JS result bytes are
  out->len = 4;
  return HandlerStatus::OK;
}

}  // namespace gq
