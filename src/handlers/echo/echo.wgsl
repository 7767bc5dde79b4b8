// echo, WGSL twin of echo.ts: the result is the payload, byte for byte.
//
// process_message
//   inputs:  payload bytes [0, msg.len)
//   outputs: result bytes [0, msg.len) = the payload; out.len = msg.len
//   status:  STATUS_OK; STATUS_RESULT_TOO_LARGE when msg.len > out.cap (nothing written)
//   slots:   none (the engine owns every slot transition)

fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 {
  if (msg.len > (*out).cap) {
    return STATUS_RESULT_TOO_LARGE;
  }
  // Whole words: the bytes past `len` land in the result area's padding, which the host never copies.
  let words = (msg.len + 3u) >> 2u;
  for (var w = 0u; w < words; w++) {
    result_store_word(out, w, payload_word(msg, w));
  }
  (*out).len = msg.len;
  return STATUS_OK;
}
