// The webgpu engine's kernel: one invocation per message of a batch the host gathered from the slot ring.
// It does for one message what the cpu engine's consume-loop.ts does: up to `max_attempts` attempts of
// the handler (wrapper stages first, as the JS wrappers call `inner`), stopping at the first STATUS_OK,
// then the outcome. The slot transitions stay on the host (batch-consumer.ts): WebGPU cannot touch the
// shared ring, and a shader cannot run persistently, so the host copies payloads in and outcomes out.

/// Wrapper stage kinds (kernel-source.ts encodes them; the slow wrapper waits on the host: WGSL has no clock).
const WRAPPER_FAULT: u32 = 1u;
const WRAPPER_CRASH: u32 = 2u;
/// Not a handler status: the crash wrapper fired; the host loses the device, as a crash ends a cpu worker.
const OUTCOME_KILLED_CONSUMER: u32 = 0xffffffffu;
const MAX_WRAPPERS: u32 = 4u;
/// A message record of `batch_messages`, written by the host from the slot's header and outcome
/// (batch-stage.ts MessageRecord): MSG_RECORD_WORDS u32 words per message, these indices.
const MSG_RECORD_WORDS: u32 = 4u;
const MSG_PAYLOAD_LEN: u32 = 0u;
const MSG_ID_LO: u32 = 1u;
const MSG_ID_HI: u32 = 2u;
/// The slot's ATTEMPTS before this run.
const MSG_ATTEMPTS: u32 = 3u;

struct BatchParams {
  /// Messages in this batch (the only field written per batch).
  count: u32,
  /// Words from one payload of `batch_payloads` to the next (the ring's payload area).
  payload_words: u32,
  /// Words from one result area of `batch_results` to the next (the ring's result area).
  result_words: u32,
  /// The ring's result bytes.
  result_capacity: u32,
  /// 1 + the queue's maxRetries.
  max_attempts: u32,
  wrapper_count: u32,
  /// Kind of wrapper stage i in component i, outermost first.
  wrapper_kinds: vec4<u32>,
  wrappers: array<vec4<u32>, MAX_WRAPPERS>,
}

@group(0) @binding(0) var<uniform> params: BatchParams;
/// The batch's message records (MSG_*), written by the host; read-only here.
@group(0) @binding(1) var<storage, read> batch_messages: array<u32>;
/// The batch's outcomes, laid out as the ring's outcome array (OUTCOME_BYTES apart, SLOT_OUTCOME_* words),
/// read back by the host, which copies a run's outcomes into the ring at once.
@group(0) @binding(3) var<storage, read_write> batch_outcomes: array<u32>;

/// One attempt: wrapper stages outermost first, then the leaf handler.
fn run_attempt(msg: MsgView, out: ptr<function, ResultView>) -> u32 {
  for (var i = 0u; i < min(params.wrapper_count, MAX_WRAPPERS); i++) {
    let kind = params.wrapper_kinds[i];
    if (kind == WRAPPER_FAULT && fault_fails(params.wrappers[i], msg)) {
      return STATUS_FAILED;
    }
    if (kind == WRAPPER_CRASH && crash_kills(params.wrappers[i], msg)) {
      return OUTCOME_KILLED_CONSUMER;
    }
  }
  return process_message(msg, out);
}

// consume_batch
//   launch:  ceil(params.count / 64) workgroups of 64
//   inputs:  batch_messages record i = [payload length, id low, id high, ATTEMPTS] of the batch's i-th
//            message, ATTEMPTS as it was before this run: attempts go on from there up to max_attempts;
//            a record that has none left runs no attempt and ends CONSUMER_DIED. batch_payloads: its
//            payload at word i × params.payload_words (the host copies a run of the ring's payload array
//            at once, so the layout is the ring's)
//   outputs: batch_outcomes outcome i = [attempts, result length (0 unless STATUS_OK), status of the
//            last attempt, 0] (the ring's SLOT_OUTCOME_* words); batch_results: its result at word
//            i × params.result_words. A result longer than params.result_capacity ends RESULT_TOO_LARGE,
//            length 0, so the host can copy outcomes into the ring as they are
//   status:  handler statuses go to the outcome (OUTCOME_KILLED_CONSUMER when the crash wrapper fired);
//            the kernel itself cannot fail
//   slots:   none here: the host took them READY → INFLIGHT and publishes DONE from the outcomes
@compute @workgroup_size(64)
fn consume_batch(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) {
    return;
  }
  let record = i * MSG_RECORD_WORDS;
  var msg: MsgView;
  msg.word = i * params.payload_words;
  msg.len = batch_messages[record + MSG_PAYLOAD_LEN];
  msg.id_lo = batch_messages[record + MSG_ID_LO];
  msg.id_hi = batch_messages[record + MSG_ID_HI];
  var out: ResultView;
  out.word = i * params.result_words;
  out.cap = params.result_capacity;
  // Attempts go on from the slot's count: a message re-run after a lost device keeps counting.
  var attempts = batch_messages[record + MSG_ATTEMPTS];
  var status = select(STATUS_FAILED, STATUS_CONSUMER_DIED, attempts > 0u);
  loop {
    if (attempts >= params.max_attempts) {
      break;
    }
    msg.attempt = attempts;
    attempts++;
    out.len = 0u;
    status = run_attempt(msg, &out);
    if (status == STATUS_OK || status == OUTCOME_KILLED_CONSUMER) {
      break;
    }
  }
  // A user handler may claim more than the area holds: that is its failure, never an overrun.
  if (status == STATUS_OK && out.len > params.result_capacity) {
    status = STATUS_RESULT_TOO_LARGE;
  }
  let outcome = i * (OUTCOME_BYTES / 4u);
  batch_outcomes[outcome + SLOT_OUTCOME_ATTEMPTS] = attempts;
  batch_outcomes[outcome + SLOT_OUTCOME_RESULT_LEN] = select(0u, out.len, status == STATUS_OK);
  batch_outcomes[outcome + SLOT_OUTCOME_HANDLER_STATUS] = status;
  batch_outcomes[outcome + 3u] = 0u;
}
