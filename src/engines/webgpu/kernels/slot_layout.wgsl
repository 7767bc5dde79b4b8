// The slot ring's layout as the batch kernel sees it: the same numbers as src/core/slot-layout.ts and
// src/core/handler-status.ts (which own them; test/engines/webgpu-layout.test.ts parses this file and
// fails on any difference). The kernel never sees the ring itself: the host copies each taken slot's
// header and payload (or, a run at a time, the whole slot) into a batch buffer (one record per message,
// `params.slot_words` apart) and copies each outcome record back, so only header words and statuses are
// needed here.

const HEADER_BYTES: u32 = 48u;
const AREA_ALIGN: u32 = 16u;

// u32 word indices inside a slot header.
const SLOT_HEADER_PAYLOAD_LEN: u32 = 1u;
const SLOT_HEADER_ID_LO: u32 = 2u;
const SLOT_HEADER_ID_HI: u32 = 3u;
const SLOT_HEADER_ATTEMPTS: u32 = 6u;

// Handler statuses (0 = OK; anything else fails the attempt).
const STATUS_OK: u32 = 0u;
const STATUS_FAILED: u32 = 1u;
const STATUS_RESULT_TOO_LARGE: u32 = 2u;
const STATUS_BAD_PAYLOAD: u32 = 3u;
const STATUS_THREW: u32 = 4u;
/// A consumer died holding the message on its earlier attempts (set by the host; a handler never returns it).
const STATUS_CONSUMER_DIED: u32 = 5u;
