// The webgpu engine's kernel: one invocation per message of a batch the host gathered from the slot ring.
// It does for one message what the cpu engine's consume-loop.ts does: up to `max_attempts` attempts of
// the handler (wrapper stages first, as the JS wrappers call `inner`), stopping at the first STATUS_OK,
// then the outcome. The slot transitions stay on the host (batch-consumer.ts): WebGPU cannot touch the
// shared ring, and a shader cannot run persistently, so the host copies slots in and outcomes out.

/// Wrapper stage kinds (kernel-source.ts encodes them; the slow wrapper waits on the host: WGSL has no clock).
const WRAPPER_FAULT: u32 = 1u;
const WRAPPER_CRASH: u32 = 2u;
/// Not a handler status: the crash wrapper fired; the host loses the device, as a crash ends a cpu worker.
const OUTCOME_KILLED_CONSUMER: u32 = 0xffffffffu;
const MAX_WRAPPERS: u32 = 4u;
/// Words before the result area in an outcome record: attempts, status, result length, unused.
const OUTCOME_HEADER_WORDS: u32 = 4u;

struct BatchParams {
  /// Messages in this batch (the only field written per batch).
  count: u32,
  /// Words from one slot record of `batch_slots` to the next (header + payload area).
  slot_words: u32,
  /// Words from one outcome record of `batch_outcomes` to the next (4 + result area).
  outcome_words: u32,
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
//   inputs:  batch_slots record i = the header and payload of the batch's i-th message, as in the ring,
//            params.slot_words apart (the whole slot, result area included, when the host copied a run
//            of slots at once; the kernel never reads past the payload). ATTEMPTS as it was before this
//            run: attempts go on from there up to max_attempts; a record that has none left runs no
//            attempt and ends CONSUMER_DIED
//   outputs: batch_outcomes record i = [attempts, status of the last attempt, result length (0 unless
//            STATUS_OK), 0, result area]
//   status:  handler statuses go to the outcome (OUTCOME_KILLED_CONSUMER when the crash wrapper fired);
//            the kernel itself cannot fail
//   slots:   none here: the host took them READY → INFLIGHT and publishes DONE from the outcomes
@compute @workgroup_size(64)
fn consume_batch(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) {
    return;
  }
  let header = i * params.slot_words;
  var msg: MsgView;
  msg.word = header + HEADER_BYTES / 4u;
  msg.len = batch_slots[header + SLOT_HEADER_PAYLOAD_LEN];
  msg.id_lo = batch_slots[header + SLOT_HEADER_ID_LO];
  msg.id_hi = batch_slots[header + SLOT_HEADER_ID_HI];
  let outcome = i * params.outcome_words;
  var out: ResultView;
  out.word = outcome + OUTCOME_HEADER_WORDS;
  out.cap = params.result_capacity;
  // Attempts go on from the slot's count: a message re-run after a lost device keeps counting.
  var attempts = batch_slots[header + SLOT_HEADER_ATTEMPTS];
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
  batch_outcomes[outcome] = attempts;
  batch_outcomes[outcome + 1u] = status;
  batch_outcomes[outcome + 2u] = select(0u, out.len, status == STATUS_OK);
}
