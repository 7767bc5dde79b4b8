// vector-stats (UC-2), device twin of vector-stats.ts: float32 payload → [sum, sum of squares, min, max].
// Bit-identical to JS: the same sequential order, float32 rounding after every operation through
// __fadd_rn/__fmul_rn (which are never contracted into an FMA), no flush of subnormals. A NaN result is
// a NaN on both sides, not the same bits (see canonical).
//
// process_message
//   inputs:  in.payload[0, in.len) as little-endian float32 values
//   outputs: out->out[0, 16) = float32 {sum, sumSquares, min, max} (all 0 for an empty payload); out->len = 16
//   status:  OK; BAD_PAYLOAD when in.len % 4 != 0; RESULT_TOO_LARGE when out->cap < 16 (checked in that order)
//   slots:   none (the kernel owns every slot transition)
#include "../../engines/cuda/kernels/handler_abi.cuh"

namespace gq {

/// Any NaN result as 0x7fc00000, the NaN V8 writes for `NaN`. ECMAScript lets an engine store any NaN
/// encoding into a Float32Array, and V8's choice even changes with the JIT tier (measured on the GPU
/// machine: the same payloads gave different NaN bits in JS from run to run), so NaN results match as
/// "a NaN", and every other value bit for bit.
__device__ __forceinline__ float canonical(float x) {
  return isnan(x) ? __int_as_float(0x7fc00000) : x;
}

__device__ int process_message(const MsgView& in, ResultView* out) {
  if (in.len % 4 != 0) return HandlerStatus::BAD_PAYLOAD;
  if (out->cap < 16) return HandlerStatus::RESULT_TOO_LARGE;
  float4* result = reinterpret_cast<float4*>(out->out);
  const uint32_t n = in.len / 4;
  out->len = 16;
  if (n == 0) {
    *result = make_float4(0.f, 0.f, 0.f, 0.f);
    return HandlerStatus::OK;
  }
  const float4* p = reinterpret_cast<const float4*>(in.payload);
  float sum = 0.f, sum_squares = 0.f;
  float min = p[0].x, max = min;
  for (uint32_t w = 0; w * 4 < n; w++) {
    const float4 v = p[w];
    const float xs[4] = {v.x, v.y, v.z, v.w};
    for (uint32_t k = 0; k < 4 && w * 4 + k < n; k++) {
      const float x = xs[k];
      sum = __fadd_rn(sum, x);
      sum_squares = __fadd_rn(sum_squares, __fmul_rn(x, x));
      // Written as JS writes it, so NaN and -0 behave the same: a comparison that is false keeps the old value.
      min = x < min ? x : min;
      max = x > max ? x : max;
    }
  }
  *result = make_float4(canonical(sum), canonical(sum_squares), canonical(min), canonical(max));
  return HandlerStatus::OK;
}

}  // namespace gq
