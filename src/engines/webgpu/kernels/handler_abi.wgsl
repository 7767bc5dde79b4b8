// What a WGSL handler sees, the twin of src/handlers/handler.ts and of the cuda engine's handler_abi.cuh:
// a view of one message and of its result area, a status to return, and accessors for both. WGSL has no
// pointers into storage buffers that a function can take apart, so a view is a word index into the batch
// buffers below and handlers read and write through the accessors.
//
// A leaf handler's .wgsl (src/handlers/<name>/<name>.wgsl, or a user's source) defines
//   fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32
// returning a STATUS_* (slot_layout.wgsl). The engine assembles one module from this file, slot_layout.wgsl,
// f32_exact.wgsl, the wrapper handlers (fault), the leaf and batch_consumer.wgsl (kernel-source.ts).

/// The batch's payloads, `params.payload_words` words apart (the ring's payload area), written by the
/// host; read-only here.
@group(0) @binding(2) var<storage, read> batch_payloads: array<u32>;
/// The batch's result areas, `params.result_words` words apart (the ring's result area), read back by the host.
@group(0) @binding(4) var<storage, read_write> batch_results: array<u32>;

/// One message. Its payload is 16-byte aligned and padded to 16 bytes, so whole words up to `len`
/// rounded up to 16 may be read.
struct MsgView {
  /// Index in `batch_payloads` of the payload's first word.
  word: u32,
  /// Payload bytes.
  len: u32,
  /// The message id, low and high 32 bits.
  id_lo: u32,
  id_hi: u32,
  /// 0 on the first run, then 1, 2, … on retries.
  attempt: u32,
}

/// Where the result goes: `cap` bytes from word `word` of `batch_results` (16-byte aligned and padded);
/// the handler sets `len`.
struct ResultView {
  word: u32,
  cap: u32,
  len: u32,
}

/// Word `i` of the payload (bytes 4i … 4i + 3, little-endian).
fn payload_word(msg: MsgView, i: u32) -> u32 {
  return batch_payloads[msg.word + i];
}

/// Byte `i` of the payload.
fn payload_byte(msg: MsgView, i: u32) -> u32 {
  return (batch_payloads[msg.word + (i >> 2u)] >> ((i & 3u) * 8u)) & 0xffu;
}

/// Writes word `i` of the result area (bytes 4i … 4i + 3, little-endian). The caller keeps 4i < cap
/// rounded up to 16.
fn result_store_word(out: ptr<function, ResultView>, i: u32, value: u32) {
  batch_results[(*out).word + i] = value;
}

/// Writes byte `i` of the result area. Each invocation owns its result area, so the read-modify-write races
/// with nobody.
fn result_store_byte(out: ptr<function, ResultView>, i: u32, value: u32) {
  let w = (*out).word + (i >> 2u);
  let shift = (i & 3u) * 8u;
  batch_results[w] = (batch_results[w] & ~(0xffu << shift)) | ((value & 0xffu) << shift);
}
