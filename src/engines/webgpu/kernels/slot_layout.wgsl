// The slot ring's numbers as the batch kernel sees them: the same numbers as src/core/slot-layout.ts and
// src/core/handler-status.ts (which own them; test/engines/webgpu-layout.test.ts parses this file and
// fails on any difference). The kernel never sees the ring itself: the host copies a run of taken slots'
// payloads, as the ring's payload array lays them out (`params.payload_words` apart), into a batch
// buffer, with a small record per message (batch_consumer.wgsl MSG_*), and copies back outcomes laid out
// as the ring's outcome array and results as its result array, a run at a time. So only the area
// alignment, the outcome words and the statuses are needed here.

const AREA_ALIGN: u32 = 16u;

// A slot outcome, as the ring's outcome array holds it: OUTCOME_BYTES per slot, these u32 words.
const OUTCOME_BYTES: u32 = 16u;
const SLOT_OUTCOME_ATTEMPTS: u32 = 0u;
const SLOT_OUTCOME_RESULT_LEN: u32 = 1u;
const SLOT_OUTCOME_HANDLER_STATUS: u32 = 2u;

// Handler statuses (0 = OK; anything else fails the attempt).
const STATUS_OK: u32 = 0u;
const STATUS_FAILED: u32 = 1u;
const STATUS_RESULT_TOO_LARGE: u32 = 2u;
const STATUS_BAD_PAYLOAD: u32 = 3u;
const STATUS_THREW: u32 = 4u;
/// A consumer died holding the message on its earlier attempts (set by the host; a handler never returns it).
const STATUS_CONSUMER_DIED: u32 = 5u;
