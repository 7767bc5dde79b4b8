// checksum, WGSL twin of checksum.ts: 32-bit FNV-1a of the payload as 4 little-endian bytes. u32
// arithmetic in WGSL wraps modulo 2^32, as Math.imul does.
//
// process_message
//   inputs:  payload bytes [0, msg.len)
//   outputs: result word 0 = FNV-1a (offset 0x811c9dc5, prime 0x01000193); out.len = 4
//   status:  STATUS_OK; STATUS_RESULT_TOO_LARGE when out.cap < 4
//   slots:   none (the engine owns every slot transition)

const FNV1A_OFFSET: u32 = 0x811c9dc5u;
const FNV1A_PRIME: u32 = 0x01000193u;

fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 {
  if ((*out).cap < 4u) {
    return STATUS_RESULT_TOO_LARGE;
  }
  var h = FNV1A_OFFSET;
  let whole_words = msg.len >> 2u;
  for (var w = 0u; w < whole_words; w++) {
    let word = payload_word(msg, w);
    h = (h ^ (word & 0xffu)) * FNV1A_PRIME;
    h = (h ^ ((word >> 8u) & 0xffu)) * FNV1A_PRIME;
    h = (h ^ ((word >> 16u) & 0xffu)) * FNV1A_PRIME;
    h = (h ^ (word >> 24u)) * FNV1A_PRIME;
  }
  for (var i = whole_words << 2u; i < msg.len; i++) {
    h = (h ^ payload_byte(msg, i)) * FNV1A_PRIME;
  }
  result_store_word(out, 0u, h);
  (*out).len = 4u;
  return STATUS_OK;
}
