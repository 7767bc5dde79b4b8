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

/// Four bytes of a little-endian word, lowest first. The byte extractions do not depend on `h`, so the
/// dependent chain is one xor and one multiply per byte (about 8 cycles), nothing else.
__device__ __forceinline__ uint32_t fnv1a_word(uint32_t h, uint32_t word) {
  h = (h ^ (word & 0xffu)) * FNV1A_PRIME;
  h = (h ^ ((word >> 8) & 0xffu)) * FNV1A_PRIME;
  h = (h ^ ((word >> 16) & 0xffu)) * FNV1A_PRIME;
  return (h ^ (word >> 24)) * FNV1A_PRIME;
}

__device__ int process_message(const MsgView& in, ResultView* out) {
  if (out->cap < 4) return HandlerStatus::RESULT_TOO_LARGE;
  // 16-byte loads (the payload is 16-aligned and padded; the kernel stages it in shared or device
  // memory), whole words first, then the last 0-3 bytes. (A loop with a bounds check per byte took
  // 5.6 µs for 256 B on the H100; this takes about 1.)
  const uint4* p = reinterpret_cast<const uint4*>(in.payload);
  const uint32_t len = in.len;
  uint32_t h = FNV1A_OFFSET;
  uint32_t w = 0;
  for (; (w + 1) * 16 <= len; w++) {
    const uint4 v = p[w];
    h = fnv1a_word(h, v.x);
    h = fnv1a_word(h, v.y);
    h = fnv1a_word(h, v.z);
    h = fnv1a_word(h, v.w);
  }
  const uint32_t* tail = reinterpret_cast<const uint32_t*>(p + w);
  uint32_t i = w * 16;
  for (uint32_t k = 0; i + 4 <= len; k++, i += 4) h = fnv1a_word(h, tail[k]);
  if (i < len) {
    const uint32_t word = tail[(i - w * 16) / 4];
    for (uint32_t b = 0; i < len; b++, i++) h = (h ^ ((word >> (8 * b)) & 0xffu)) * FNV1A_PRIME;
  }
  *reinterpret_cast<uint32_t*>(out->out) = h;  // the GPU is little-endian, as the JS result bytes are
  out->len = 4;
  return HandlerStatus::OK;
}

}  // namespace gq
