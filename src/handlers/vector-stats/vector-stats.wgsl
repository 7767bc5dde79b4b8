// vector-stats (UC-2), WGSL twin of vector-stats.ts: float32 payload → [sum, sum of squares, min, max].
// Bit-identical to JS: the same sequential order, and every add, multiply and comparison done by
// f32_exact.wgsl on the bit patterns (WGSL may flush subnormals, drivers may fuse x * x into the add).
//
// process_message
//   inputs:  payload bytes [0, msg.len) as little-endian float32 values
//   outputs: result words 0..3 = float32 {sum, sumSquares, min, max} (all +0 for an empty payload); out.len = 16
//   status:  STATUS_OK; STATUS_BAD_PAYLOAD when msg.len % 4 != 0; STATUS_RESULT_TOO_LARGE when out.cap < 16
//            (checked in that order)
//   slots:   none (the engine owns every slot transition)

fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 {
  if ((msg.len & 3u) != 0u) {
    return STATUS_BAD_PAYLOAD;
  }
  if ((*out).cap < 16u) {
    return STATUS_RESULT_TOO_LARGE;
  }
  let n = msg.len >> 2u;
  var sum = 0u;
  var sum_squares = 0u;
  var min = 0u;
  var max = 0u;
  if (n > 0u) {
    min = payload_word(msg, 0u);
    max = min;
  }
  for (var i = 0u; i < n; i++) {
    let x = payload_word(msg, i);
    sum = f32_add_rn(sum, x);
    sum_squares = f32_add_rn(sum_squares, f32_mul_rn(x, x));
    // As JS writes it: a comparison that is false (NaN, or -0 against +0) keeps the old value.
    min = select(min, x, f32_less(x, min));
    max = select(max, x, f32_less(max, x));
  }
  result_store_word(out, 0u, sum);
  result_store_word(out, 1u, sum_squares);
  result_store_word(out, 2u, min);
  result_store_word(out, 3u, max);
  (*out).len = 16u;
  return STATUS_OK;
}
