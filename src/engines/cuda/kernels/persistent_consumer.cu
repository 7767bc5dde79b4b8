// The cuda engine's consumer: ONE persistent kernel, launched once, consuming the shared slot ring in
// host memory mapped into the GPU. It does what the cpu engine's consume-loop.ts does, with a block in the
// place of a worker thread; the handler is the `gq::process_message` pre-included by the build
// (scripts/build-kernels.mjs), wrapped by the fault/slow/crash stages the host passes at launch.
// Ordering helpers and the layout: slot_layout.cuh. Protocol: docs/protocol.md.
//
// Latency is a count of PCIe round trips (1.2-1.4 µs each on the H100 test machine: a GPU read of host
// memory waits for the answer; a GPU write is posted), plus system-scope fences, so the kernel makes few
// of each (measurements: bench/results/2026-11-24-cuda-latency-h100.md, scripts/gpu-pcie-lab.mjs):
// - Exactly one poller of the shared control line: the watcher (thread 0 of the last block) reads STOP,
//   PAUSED (and, in WATCH mode, the producers' publish counter) in one round trip and broadcasts them
//   through one word of device memory, which the blocks read in L2. When every block polled STOP and
//   PAUSED on that one host line, each system-scope fence waited 70-130 µs (lab), and the old DONE path
//   had two: that was most of the old 300 µs round trip at 64 blocks.
// - A slot's fields live in per-slot arrays (slot-layout.ts): the states of consecutive slots share a line
//   (16 per 64 B), as do their headers (2 per line) and outcomes (4), and a run's payloads (and results)
//   are one contiguous range, so the kernel's reads of a run are few wide contiguous loads.
// - A block looks at its own shard (wake mode POLL, the default: its HEAD and the states of the slots from
//   its cursor to the end of that state line, one round trip by one warp, lines no other block reads); a
//   run that ends inside that line is then taken without reading any other STATE, a longer one reads
//   the rest of its states (consecutive words) in one more round trip. Pollers on distinct lines cost
//   fences far less (1.4-1.7 µs instead of 0.8 µs quiet).
// - A run is staged by the whole block at once, 16 B per thread per load with several loads in flight
//   (one round trip for a run of small messages): each thread loads the first header chunk (length, id)
//   and the ATTEMPTS word of its own slot into registers, and the block loads the run's payloads,
//   contiguous, into shared memory when they fit, else device memory, so the handler never reads PCIe.
//   (The old handler loop made one dependent PCIe read per 16 B: 16 round trips for 256 B.)
// - Outcomes and results are written straight to host memory (posted writes; a slot's final outcome is
//   one 16-B store), then DONE with one release store per slot, for the whole run at once (after a
//   barrier: a fault never leaves DONE behind an unfinished slot); a run's states are consecutive words,
//   so a warp's INFLIGHT and DONE stores are one write each.
#include "handler_abi.cuh"
#include "slot_layout.cuh"

namespace gq {

/// Launch parameters, passed by value. The host encodes them as 32-bit words in this order
/// (src/engines/cuda/launch-params.ts); keep the two in step.
struct ConsumerParams {
  uint32_t shards;
  uint32_t shard_capacity;   // a power of two
  uint32_t states_offset;    // bytes from the ring base to each per-slot array (slot-layout.ts computeLayout)
  uint32_t headers_offset;
  uint32_t outcomes_offset;
  uint32_t payloads_offset;
  uint32_t results_offset;
  uint32_t result_area;      // bytes of a slot's result area (resultBytes rounded up to AREA_ALIGN)
  uint32_t result_capacity;  // the ring's resultBytes
  uint32_t max_retries;
  uint32_t idle_sleep_max_ns;
  uint32_t consumers;        // consuming blocks; block `consumers` (the last) is the watcher
  uint32_t payload_area;     // bytes of a slot's payload area (slotBytes rounded up to AREA_ALIGN)
  uint32_t scratch_lo;       // device memory laid out as in Scratch below (low and high 32 bits)
  uint32_t scratch_hi;
  uint32_t wake_mode;        // WakeMode
  uint32_t publish_word;     // Int32 index of the producers' publish counter in the control block; 0 = none
  uint32_t staging_shared;   // 1: payloads are staged in dynamic shared memory (after the cursors), else in the scratch
  uint32_t wrapper_count;
  WrapperStage wrappers[MAX_WRAPPERS];
};

/// How a consuming block learns that its shard may have new READY slots.
namespace WakeMode {
/// The watcher polls the producers' publish counter (one host word for every shard) and bumps the
/// broadcast epoch; a block looks at its shard only when the epoch moved (or it still has work).
constexpr uint32_t WATCH = 0;
/// Each block polls its own shard (HEAD and the STATEs at its cursor, one round trip) while hot; STOP and
/// PAUSED still come from the watcher. No producer-side counter needed.
constexpr uint32_t POLL = 1;
/// As POLL, and each block also reads STOP and PAUSED over PCIe itself (the old kernel's polling, kept
/// to measure what the watcher saves).
constexpr uint32_t LEGACY = 2;
}  // namespace WakeMode
static_assert(WakeMode::WATCH == 0 && WakeMode::POLL == 1 && WakeMode::LEGACY == 2, "the numbers of launch-params.ts WakeMode");

/// Device scratch (cuMemAlloc'd by the host, zeroed before launch), byte offsets.
namespace Scratch {
/// The watcher's broadcast word: STOP_BIT | PAUSED_BIT | epoch (the publish counter's low 30 bits).
constexpr uint32_t BROADCAST = 0;
/// One word per consuming block: its progress count, bumped by the block on every pass of its loop
/// (never 0 once it runs). The watcher beats only when every block moved since the last beat.
constexpr uint32_t ALIVE = 128;
/// The watcher's own copy of each block's progress at the last beat.
constexpr uint32_t SEEN = 4096;
/// Staged payloads when not in shared memory: block b, thread t at STAGING + (b * blockDim + t) * payload_area.
/// (A GQ_TRACE build keeps TRACE_RECORDS records per block after the staging area.)
constexpr uint32_t STAGING = 8192;
}  // namespace Scratch
constexpr uint32_t STOP_BIT = 1u << 31;
/// Control.STOP value with which the host asks the watcher to trap (slot-layout.ts).
constexpr uint32_t STOP_ABORT = 2;
constexpr uint32_t PAUSED_BIT = 1u << 30;
constexpr uint32_t EPOCH_MASK = PAUSED_BIT - 1;

/// How often the watcher bumps Control.HEARTBEAT, busy or idle, as long as every block makes progress: a
/// block stuck in a handler that never returns stops the heartbeat, and the host's watchdog sees its age.
constexpr uint64_t HEARTBEAT_PERIOD_NS = 1000000;
/// For this long after the last sign of work, pollers do not nap (a host poll is a round trip anyway);
/// after it, naps double from IDLE_SLEEP_MIN_NS up to idle_sleep_max_ns.
constexpr uint64_t HOT_NS = 500000;
constexpr uint32_t IDLE_SLEEP_MIN_NS = 32;
/// While hot, a WATCH block's nap between looks at the broadcast word (in L2) is at most this.
constexpr uint32_t HOT_L2_NAP_MAX_NS = 256;
/// A WATCH block looks at its shard at least this often even when the epoch did not move.
constexpr uint64_t SAFETY_SCAN_NS = 1000000;
/// Staging: payload chunks (16 B) read in the first pass with the header, and loads in flight per thread.
constexpr uint32_t FIRST_PASS_PAYLOAD_CHUNKS = 32;
constexpr uint32_t LOADS_IN_FLIGHT = 8;
constexpr uint32_t MAX_BLOCK_THREADS = 256;
/// Slot states per cache line: the probe reads the states from the cursor to the end of its line.
constexpr uint32_t LINE_STATES = LINE_BYTES / 4;
// The kernel stages only a header's first 16-B chunk (the words it needs), reads ATTEMPTS on its own and
// writes a slot's final outcome as one 16-B store {ATTEMPTS, RESULT_LEN, HANDLER_STATUS, 0}.
static_assert(SlotHeader::PAYLOAD_LEN == 1 && SlotHeader::ID_LO == 2 && SlotHeader::ID_HI == 3,
              "header chunk 0 is {FLAGS, PAYLOAD_LEN, ID_LO, ID_HI}");
static_assert(HEADER_BYTES % 16 == 0 && OUTCOME_BYTES == 16,
              "headers and outcomes are 16-byte aligned; an outcome is one 16-B store");
static_assert(SlotOutcome::ATTEMPTS == 0 && SlotOutcome::RESULT_LEN == 1 && SlotOutcome::HANDLER_STATUS == 2, "the outcome store's word order");
static_assert(LINE_STATES <= 32, "the probe's states fit in one warp");

// ---- optional phase timestamps (build with -DGQ_TRACE; scripts/gpu-latency.mjs reads them) ----------
constexpr uint32_t TRACE_RECORDS = 64;
struct TraceRecord {
  uint64_t msg_id;
  uint64_t probe_issued;  // %globaltimer ns: the look at the shard that found this slot began
  uint64_t probe_done;    // its HEAD and STATE answers are back
  uint64_t window_done;   // the other slots' STATE answers are back (= probe_done when the probe saw the run's end)
  uint64_t staged;        // header chunk, ATTEMPTS and payload are staged
  uint64_t handled;       // the handler returned (last attempt)
  uint64_t done;          // the DONE release store was issued (its fence waited for the result writes)
  uint64_t handler_cycles;  // clock64 cycles of the attempts: with handled - staged, the SM clock
};
#ifdef GQ_TRACE
#define GQ_TRACE_ONLY(...) __VA_ARGS__
#else
#define GQ_TRACE_ONLY(...)
#endif


__device__ __forceinline__ uint32_t* control_word(uint8_t* ring, uint32_t word) {
  return reinterpret_cast<uint32_t*>(ring) + word;
}

__device__ __forceinline__ uint32_t* shard_word(uint8_t* ring, uint32_t shard, uint32_t word) {
  return reinterpret_cast<uint32_t*>(ring + CONTROL_BYTES + static_cast<uint64_t>(shard) * SHARD_CONTROL_BYTES) + word;
}

/// The ring-wide number of a shard's slot, for any wrapped 32-bit position of that shard (slot-layout.ts slotOf).
__device__ __forceinline__ uint64_t slot_of(const ConsumerParams& p, uint32_t shard, uint32_t position) {
  return static_cast<uint64_t>(shard) * p.shard_capacity + (position & (p.shard_capacity - 1));
}

/// A slot's entry in each per-slot array.
__device__ __forceinline__ uint32_t* slot_state(uint8_t* ring, const ConsumerParams& p, uint64_t slot) {
  return reinterpret_cast<uint32_t*>(ring + p.states_offset) + slot;
}
__device__ __forceinline__ const uint4* slot_header(const uint8_t* ring, const ConsumerParams& p, uint64_t slot) {
  return reinterpret_cast<const uint4*>(ring + p.headers_offset + slot * HEADER_BYTES);
}
__device__ __forceinline__ uint32_t* slot_outcome(uint8_t* ring, const ConsumerParams& p, uint64_t slot) {
  return reinterpret_cast<uint32_t*>(ring + p.outcomes_offset + slot * OUTCOME_BYTES);
}
__device__ __forceinline__ const uint4* slot_payload(const uint8_t* ring, const ConsumerParams& p, uint64_t slot) {
  return reinterpret_cast<const uint4*>(ring + p.payloads_offset + slot * p.payload_area);
}
__device__ __forceinline__ uint8_t* slot_result(uint8_t* ring, const ConsumerParams& p, uint64_t slot) {
  return ring + p.results_offset + slot * p.result_area;
}

__device__ __forceinline__ uint8_t* scratch_base(const ConsumerParams& p) {
  return reinterpret_cast<uint8_t*>(static_cast<uint64_t>(p.scratch_lo) | (static_cast<uint64_t>(p.scratch_hi) << 32));
}

__device__ __forceinline__ uint32_t next_nap(uint32_t nap, uint32_t cap) {
  const uint32_t n = nap == 0 ? IDLE_SLEEP_MIN_NS : nap * 2;
  return n < cap ? n : cap;
}

/// One attempt: wrapper stages outermost first (as the JS wrappers call `inner`), then the leaf handler.
__device__ int run_attempt(const MsgView& msg, ResultView* out, const ConsumerParams& p) {
  const uint32_t stages = p.wrapper_count < MAX_WRAPPERS ? p.wrapper_count : MAX_WRAPPERS;
  for (uint32_t i = 0; i < stages; i++) {
    const WrapperStage& stage = p.wrappers[i];
    if (stage.kind == WrapperKind::FAULT && fault_fails(stage, msg.msg_id, msg.attempt)) return HandlerStatus::FAILED;
    if (stage.kind == WrapperKind::SLOW) slow_spin(stage);
    if (stage.kind == WrapperKind::CRASH || stage.kind == WrapperKind::HANG) crash_maybe(stage, msg.msg_id, msg.attempt);
  }
  return process_message(msg, out);
}

/// Runs one message to its end; publish_done makes it DONE once the whole run got this far.
///   inputs:  a slot seen READY through ld_acquire_sys; its header chunk 0 (`h`: FLAGS, PAYLOAD_LEN, ID_LO,
///            ID_HI) and outcome ATTEMPTS (`attempts`), both loaded after that acquire; its payload staged
///            (`staged`, payload_area bytes, in shared or device memory)
///   outputs: the slot's outcome ATTEMPTS (before each attempt), then ATTEMPTS, RESULT_LEN (0 unless OK)
///            and HANDLER_STATUS in one store, and its result area, in host memory (posted writes)
///   status:  the handler's status on the last attempt (0 = OK); up to 1 + max_retries attempts
///   slots:   READY → INFLIGHT
__device__ void run_slot(uint8_t* ring, const ConsumerParams& p, uint64_t slot, const uint8_t* staged, const uint4& h,
                         uint32_t attempts, TraceRecord* trace) {
  st_relaxed_sys(slot_state(ring, p, slot), SlotState::INFLIGHT);
  uint32_t* outcome = slot_outcome(ring, p, slot);
  MsgView msg;
  msg.payload = staged;
  // Producers never write more than slotBytes; the clamp only keeps a corrupt header inside the staging.
  msg.len = h.y < p.payload_area ? h.y : p.payload_area;  // SlotHeader::PAYLOAD_LEN
  msg.msg_id = (static_cast<uint64_t>(h.w) << 32) | h.z;  // SlotHeader::ID_HI, ID_LO
  ResultView out;
  out.out = slot_result(ring, p, slot);
  out.cap = p.result_capacity;
  out.len = 0;
  // Attempts count on from the slot's value (stored before each run; the producer wrote 0 with the
  // header): a slot re-run after its consumer died goes on counting, and one already at the
  // limit ends as CONSUMER_DIED (engines/engine.ts).
  int status = attempts > 0 ? HandlerStatus::CONSUMER_DIED : HandlerStatus::FAILED;
  GQ_TRACE_ONLY(const uint64_t c0 = clock64(); trace->msg_id = msg.msg_id; trace->staged = global_timer_ns();)
  while (attempts < 1 + p.max_retries) {
    msg.attempt = attempts++;
    st_relaxed_sys(outcome + SlotOutcome::ATTEMPTS, attempts);
    out.len = 0;
    status = run_attempt(msg, &out, p);
    if (status == HandlerStatus::OK) break;
  }
  GQ_TRACE_ONLY(trace->handler_cycles = clock64() - c0; trace->handled = global_timer_ns();)
  // One 16-B store (word 3 is padding): {ATTEMPTS, RESULT_LEN, HANDLER_STATUS}. Plain: DONE's release
  // orders it, and ATTEMPTS keeps the value its relaxed store above already gave it.
  *reinterpret_cast<uint4*>(outcome) = uint4{attempts, status == HandlerStatus::OK ? out.len : 0, static_cast<uint32_t>(status), 0};
  (void)trace;
}

/// INFLIGHT → DONE, after the result is visible: the release store orders every store this thread made
/// (the result, the outcome words) before DONE for any observer, the host over PCIe included. DONE
/// carries the lap's parity (slot-layout.ts doneState), so the harvester never has to store EMPTY.
__device__ __forceinline__ void publish_done(uint32_t* state, uint32_t position, uint32_t shard_capacity, TraceRecord* trace) {
  st_release_sys(state, (position & shard_capacity) == 0 ? SlotState::DONE : SlotState::DONE_ODD_LAP);
  GQ_TRACE_ONLY(trace->done = global_timer_ns();)
  (void)trace;
}

struct BlockShared {
  uint32_t stop;
  uint32_t scan;
  uint32_t probed;     // positions from the cursor whose STATE the probe read (the rest of the cursor's state line)
  uint32_t claimed;    // slots to look at in this run (0: nothing READY at the cursor)
  uint32_t first_gap;  // the first position of the run that is not READY yet
  uint32_t pending;    // HEAD is past the cursor but the slot there is not READY yet: look again soon
  uint32_t need_more;  // some payload of the run is longer than the first staging pass
  uint64_t probe_issued, probe_done, window_done;  // GQ_TRACE builds only
};

/// Stages slots [from, from + run) of a shard, the whole block at once. Thread t < run loads header chunk
/// 0 and outcome ATTEMPTS of slot t into registers; the block loads the payloads: item i of the first pass
/// is 16-byte chunk i % F of slot i / F's payload, so consecutive items are consecutive bytes of the
/// payloads array (a run's payloads are contiguous, but where the run wraps at the shard's end: each
/// item's slot is computed from its position). Each thread keeps its two own loads and LOADS_IN_FLIGHT
/// payload loads in flight before it stores any, so a run costs about one PCIe round trip per
/// LOADS_IN_FLIGHT x 16 B x blockDim. A second pass fetches the rest of payloads longer than the first
/// pass. Every thread of the block must call it; ends with a barrier.
///   inputs:  the slots, READY and acquired (ld_acquire_sys, then a barrier)
///   outputs: thread t < run: `h` = slot t's header chunk 0, `attempts` = its outcome ATTEMPTS;
///            lens[j] = slot j's PAYLOAD_LEN; staging + j * payload_area = its payload
__device__ void stage_run(uint8_t* ring, const ConsumerParams& p, uint32_t shard, uint32_t from, uint32_t run, uint8_t* staging,
                          uint32_t* lens, BlockShared* s, uint4* h, uint32_t* attempts) {
  const uint32_t t = threadIdx.x;
  const uint32_t chunks = p.payload_area / 16;
  const uint32_t first = chunks < FIRST_PASS_PAYLOAD_CHUNKS ? chunks : FIRST_PASS_PAYLOAD_CHUNKS;
  const uint32_t total = run * first;
  if (t == 0) s->need_more = 0;
  // This thread's own slot: issued first, answered in the same round trip as the payload loads below.
  uint4 own = uint4{0, 0, 0, 0};
  uint32_t own_attempts = 0;
  if (t < run) {
    const uint64_t slot = slot_of(p, shard, from + t);
    own = slot_header(ring, p, slot)[0];
    own_attempts = slot_outcome(ring, p, slot)[SlotOutcome::ATTEMPTS];
  }
  for (uint32_t base = 0; base < total; base += blockDim.x * LOADS_IN_FLIGHT) {
    uint4 v[LOADS_IN_FLIGHT] = {};
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total) {
        const uint32_t j = i / first;
        v[k] = slot_payload(ring, p, slot_of(p, shard, from + j))[i - j * first];
      }
    }
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total) {
        const uint32_t j = i / first;
        reinterpret_cast<uint4*>(staging + static_cast<uint64_t>(j) * p.payload_area)[i - j * first] = v[k];
      }
    }
  }
  *h = own;
  *attempts = own_attempts;
  if (t < run) lens[t] = own.y;  // SlotHeader::PAYLOAD_LEN
  __syncthreads();
  if (chunks <= first) return;
  // Second pass: payload chunks [first, ceil(len / 16)) of each slot, flattened over the block likewise.
  if (t < run && lens[t] > first * 16) atomicOr(&s->need_more, 1u);
  __syncthreads();
  if (s->need_more == 0) return;
  const uint32_t rest = chunks - first;
  const uint32_t total2 = run * rest;
  for (uint32_t base = 0; base < total2; base += blockDim.x * LOADS_IN_FLIGHT) {
    uint4 v[LOADS_IN_FLIGHT] = {};
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total2) {
        const uint32_t j = i / rest;
        const uint32_t c = first + (i - j * rest);
        if (c * 16 < lens[j]) v[k] = slot_payload(ring, p, slot_of(p, shard, from + j))[c];
      }
    }
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total2) {
        const uint32_t j = i / rest;
        const uint32_t c = first + (i - j * rest);
        if (c * 16 < lens[j]) reinterpret_cast<uint4*>(staging + static_cast<uint64_t>(j) * p.payload_area)[c] = v[k];
      }
    }
  }
  __syncthreads();
}

/// Takes the run of READY slots at the head of one shard, one slot per thread, and advances the cursor.
///   inputs:  the shard's cursor (in shared memory); HEAD (a hint: a claimed slot may not be READY yet, and
///            a slot READY past it was claimed after HEAD was read); the run's STATEs
///   outputs: CONSUMER_CURSOR (relaxed: for stats and recovery, it orders nothing); s->pending
///   slots:   the run, READY → INFLIGHT in parallel, then all of it → DONE; the harvester takes DONE slots
///            in position order
/// Returns the run's length, the same in every thread. Every thread of the block must call it.
__device__ uint32_t consume_run(uint8_t* ring, const ConsumerParams& p, uint32_t shard, uint32_t* cursor, BlockShared* s,
                                uint8_t* staging, uint32_t* lens, TraceRecord* trace) {
  const uint32_t t = threadIdx.x;
  // A run never wraps onto itself (at most shard_capacity positions), so one slot is never taken twice in
  // a run; it may wrap at the shard's end (each slot is computed from its position).
  const uint32_t limit = blockDim.x < p.shard_capacity ? blockDim.x : p.shard_capacity;
  const uint32_t from = *cursor;
  if (t < 32) {
    // The probe, one round trip by warp 0: HEAD (how many were claimed) and the STATEs of the slots from
    // the cursor to the end of its state line (acquire: those READY have their header and payload visible
    // to the loads after the barrier below). A slot of positions [from, from + shard_capacity) is READY
    // only once its position was claimed and published (its previous lap is behind the cursor), so a
    // READY slot past HEAD is one HEAD was read too early to count.
    const uint32_t line_left = LINE_STATES - static_cast<uint32_t>(slot_of(p, shard, from) & (LINE_STATES - 1));
    const uint32_t probed = line_left < limit ? line_left : limit;
    const uint32_t lanes = blockDim.x >= 32 ? 0xffffffffu : (1u << blockDim.x) - 1;
    GQ_TRACE_ONLY(if (t == 0) s->probe_issued = global_timer_ns();)
    const uint32_t head = t == 0 ? ld_relaxed_sys(shard_word(ring, shard, ShardControl::HEAD)) : 0;
    const bool ready = t < probed && ld_acquire_sys(slot_state(ring, p, slot_of(p, shard, from + t))) == SlotState::READY;
    const uint32_t not_ready = ~__ballot_sync(lanes, ready);  // bit `probed` (≤ 16) is set: never 0
    if (t == 0) {
      const uint32_t prefix = __ffs(not_ready) - 1;  // READY slots at the cursor, in a row
      const int32_t ahead = static_cast<int32_t>(head - from);
      uint32_t claimed = ahead <= 0 ? 0 : (static_cast<uint32_t>(ahead) < limit ? static_cast<uint32_t>(ahead) : limit);
      if (claimed < prefix) claimed = prefix;  // HEAD was read before the producers' claims reached it
      // The probe saw the run's end (a slot not READY) or nothing: then no other STATE is read.
      s->claimed = prefix < probed ? prefix : claimed;
      s->probed = probed;
      s->pending = prefix == 0 && ahead > 0;
      s->first_gap = s->claimed;
      GQ_TRACE_ONLY(s->probe_done = s->window_done = global_timer_ns();)
    }
  }
  __syncthreads();
  const uint32_t claimed = s->claimed;
  if (claimed == 0) {
    __syncthreads();  // everyone read `claimed` before thread 0 writes it for the next shard
    return 0;
  }
  const uint32_t probed = s->probed;
  if (claimed > probed) {
    // The window, one round trip: the STATEs of positions [probed, claimed), consecutive words (16 per
    // line). Acquire: READY was stored after the header and payload were written, so they are visible below.
    if (t >= probed && t < claimed &&
        ld_acquire_sys(slot_state(ring, p, slot_of(p, shard, from + t))) != SlotState::READY) {
      atomicMin(&s->first_gap, t);
    }
    __syncthreads();
    GQ_TRACE_ONLY(if (t == 0) s->window_done = global_timer_ns(); __syncthreads();)
  }
  const uint32_t run = s->first_gap;
  uint4 h;
  uint32_t attempts;
  stage_run(ring, p, shard, from, run, staging, lens, s, &h, &attempts);
  TraceRecord* record = nullptr;
#ifdef GQ_TRACE
  if (t < run) {
    record = trace + ((from + t) % TRACE_RECORDS);
    record->probe_issued = s->probe_issued;
    record->probe_done = s->probe_done;
    record->window_done = s->window_done;
  }
#else
  (void)trace;
#endif
  const uint64_t slot = slot_of(p, shard, from + t);
  if (t < run) run_slot(ring, p, slot, staging + static_cast<uint64_t>(t) * p.payload_area, h, attempts, record);
  // DONE only once every handler of the run returned: a handler that traps (or faults) never reaches
  // this barrier, so a dead kernel leaves a run all INFLIGHT, never a DONE slot behind an unfinished one
  // (which the harvester could not pass, and a cpu fallback resuming at the first unfinished slot would
  // stop at). Costs nothing in the round trip of a run of one.
  __syncthreads();
  if (t < run) publish_done(slot_state(ring, p, slot), from + t, p.shard_capacity, record);
  __syncthreads();  // the whole run is DONE, and every thread read `from`, `run`, `probed` and `lens`
  if (t == 0) {
    *cursor = from + run;
    st_relaxed_sys(shard_word(ring, shard, ShardControl::CONSUMER_CURSOR), from + run);
  }
  __syncthreads();  // the new cursor is visible to every thread
  return run;
}

/// Whether every consuming block moved since the last beat; if so, remembers where each one is now.
__device__ bool all_blocks_moved(const ConsumerParams& p, const uint32_t* alive, uint32_t* seen) {
  for (uint32_t b = 0; b < p.consumers; b++) {
    if (ld_relaxed_gpu(alive + b) == seen[b]) return false;
  }
  for (uint32_t b = 0; b < p.consumers; b++) seen[b] = ld_relaxed_gpu(alive + b);
  return true;
}

/// The watcher: polls the host control words in one round trip, broadcasts them, beats the heart while
/// every block makes progress. One thread; returns after broadcasting STOP.
__device__ void watch(uint8_t* ring, const ConsumerParams& p, uint32_t* broadcast, const uint32_t* alive, uint32_t* seen) {
  // The first beat tells the host every block is resident and consuming.
  for (uint32_t b = 0; b < p.consumers; b++) {
    while (ld_relaxed_gpu(alive + b) == 0) __nanosleep(100);
    seen[b] = 0;
  }
  uint32_t beat = ld_relaxed_sys(control_word(ring, Control::HEARTBEAT)) + 1;
  st_relaxed_sys(control_word(ring, Control::HEARTBEAT), beat);
  uint64_t next_beat_ns = global_timer_ns() + HEARTBEAT_PERIOD_NS;
  uint64_t last_change_ns = global_timer_ns();
  uint32_t word = 0;
  uint32_t nap = 0;
  const uint32_t* publish = p.publish_word != 0 ? control_word(ring, p.publish_word) : nullptr;
  for (;;) {
    // Three independent loads: one round trip. The acquire on the counter orders the consumers' reads of
    // the slots it announces after it (through the release/acquire of the broadcast word).
    const uint32_t stop = ld_relaxed_sys(control_word(ring, Control::STOP));
    const uint32_t paused = ld_relaxed_sys(control_word(ring, Control::PAUSED));
    const uint32_t epoch = publish != nullptr ? ld_acquire_sys(publish) & EPOCH_MASK : 0;
    const uint32_t next = (stop == 1 ? STOP_BIT : 0) | (paused == 1 ? PAUSED_BIT : 0) | epoch;
    const uint64_t now = global_timer_ns();
    if (next != word) {
      word = next;
      st_release_gpu(broadcast, word);
      last_change_ns = now;
      nap = 0;
    }
    if (now >= next_beat_ns && all_blocks_moved(p, alive, seen)) {
      st_relaxed_sys(control_word(ring, Control::HEARTBEAT), ++beat);
      next_beat_ns = now + HEARTBEAT_PERIOD_NS;
    }
    if (stop == 1) return;
    // The host's watchdog saw the heartbeat stop: a block is stuck in a handler, and only a fault ends a
    // grid whose thread will not return. The host then sees CUDA_ERROR_LAUNCH_FAILED and fails over.
    if (stop == STOP_ABORT) __trap();
    if (now - last_change_ns > HOT_NS) {
      nap = next_nap(nap, p.idle_sleep_max_ns);
      __nanosleep(nap);
    }
  }
}

}  // namespace gq

// gq_persistent_consumer — the cuda engine's one kernel
//   launch:  grid = CONSUMERS + 1 blocks (all resident at once; the last is the watcher), block ≤ 256
//            threads, dynamic shared memory 4 × ceil(shards / CONSUMERS) bytes (one cursor per owned shard)
//            rounded up to 16, plus blockDim × payload_area when staging_shared
//   inputs:  ring = device address of the mapped ring; p = geometry (the per-slot arrays' offsets), retries,
//            idle nap cap, device scratch, wake mode, publish counter, wrapper stages; Control.STOP (exit),
//            Control.PAUSED (take no new slot); per shard HEAD; per slot its STATE, header (PAYLOAD_LEN,
//            ID_LO, ID_HI), outcome ATTEMPTS and payload
//   outputs: per slot its result (results array) and outcome ATTEMPTS, RESULT_LEN, HANDLER_STATUS
//            (outcomes array); per shard CONSUMER_CURSOR;
//            Control.HEARTBEAT (the watcher, once every block runs, then every HEARTBEAT_PERIOD_NS in which
//            every block made progress: it stops while a handler does not return)
//   status:  traps (the host sees CUDA_ERROR_LAUNCH_FAILED) when the ring's MAGIC or LAYOUT_VERSION is
//            not this build's, or when Control.STOP is 2 (the host's watchdog ending a stuck handler);
//            handler statuses go to HANDLER_STATUS
//   slots:   READY → INFLIGHT → DONE, in runs taken in position order per shard (a run's slots become DONE
//            together, after all its handlers returned); never HEAD, HARVEST_TAIL, EMPTY, a header or a
//            payload, and no read-modify-write on host memory (PCIe hosts need not support device atomics)
// Block b < CONSUMERS owns shards b, b + CONSUMERS, … (shard s belongs to consumer s % CONSUMERS).
extern "C" __global__ void __launch_bounds__(256) gq_persistent_consumer(uint8_t* ring, gq::ConsumerParams p) {
  using namespace gq;
  extern __shared__ uint4 dynamic_shared[];  // the cursors, then (staging_shared) the staged payloads
  uint32_t* cursors = reinterpret_cast<uint32_t*>(dynamic_shared);
  __shared__ BlockShared s;
  __shared__ uint32_t lens[MAX_BLOCK_THREADS];  // the run's PAYLOAD_LENs (stage_run)
  const uint32_t t = threadIdx.x;
  uint8_t* scratch = scratch_base(p);
  uint32_t* broadcast = reinterpret_cast<uint32_t*>(scratch + Scratch::BROADCAST);
  uint32_t* alive = reinterpret_cast<uint32_t*>(scratch + Scratch::ALIVE);
  if (blockIdx.x == p.consumers) {
    if (t == 0) watch(ring, p, broadcast, alive, reinterpret_cast<uint32_t*>(scratch + Scratch::SEEN));
    return;
  }
  const uint32_t owned = (p.shards + p.consumers - 1) / p.consumers;
  uint8_t* staging = p.staging_shared != 0
                         ? reinterpret_cast<uint8_t*>(dynamic_shared) + (4 * owned + 15) / 16 * 16
                         : scratch + Scratch::STAGING + static_cast<uint64_t>(blockIdx.x) * blockDim.x * p.payload_area;
  TraceRecord* trace = reinterpret_cast<TraceRecord*>(scratch + Scratch::STAGING + static_cast<uint64_t>(p.consumers) * blockDim.x * p.payload_area) +
                       static_cast<uint64_t>(blockIdx.x) * TRACE_RECORDS;
  if (t == 0) {
    if (ld_relaxed_sys(control_word(ring, Control::MAGIC)) != RING_MAGIC ||
        ld_relaxed_sys(control_word(ring, Control::LAYOUT_VERSION)) != RING_LAYOUT_VERSION) {
      __trap();
    }
    // Resume where an earlier consumer of these shards stopped.
    for (uint32_t shard = blockIdx.x, k = 0; shard < p.shards; shard += p.consumers, k++) {
      cursors[k] = ld_relaxed_sys(shard_word(ring, shard, ShardControl::CONSUMER_CURSOR));
    }
    st_relaxed_gpu(alive + blockIdx.x, 1);
  }
  __syncthreads();
  // Thread 0's view of what is going on; the decision it takes goes to the block through `s`.
  uint32_t seen_epoch = 0xffffffffu;  // never an epoch: the first look always scans
  bool busy = true;                   // took or saw work on the last look
  uint64_t last_work_ns = global_timer_ns();
  uint64_t next_safety_ns = 0;
  uint32_t nap = 0;
  uint32_t progress = 1;
  for (;;) {
    if (t == 0) {
      // A new pass: tell the watcher this block is not stuck (0 means "not started": skip it on wrap).
      progress = progress == 0xffffffffu ? 1 : progress + 1;
      st_relaxed_gpu(alive + blockIdx.x, progress);
      uint32_t word;
      if (p.wake_mode == WakeMode::LEGACY) {
        const uint32_t stop = ld_relaxed_sys(control_word(ring, Control::STOP));
        const uint32_t paused = ld_relaxed_sys(control_word(ring, Control::PAUSED));
        word = (stop == 1 ? STOP_BIT : 0) | (paused == 1 ? PAUSED_BIT : 0);
      } else if (p.wake_mode == WakeMode::WATCH) {
        word = ld_acquire_gpu(broadcast);  // orders the probe after the epoch it announces
      } else {
        word = ld_relaxed_gpu(broadcast);  // STOP and PAUSED only: nothing to order
      }
      const uint64_t now = global_timer_ns();
      bool scan = (word & PAUSED_BIT) == 0;
      if (scan && p.wake_mode == WakeMode::WATCH) {
        scan = busy || (word & EPOCH_MASK) != seen_epoch || now >= next_safety_ns;
        if (scan) {
          seen_epoch = word & EPOCH_MASK;
          next_safety_ns = now + SAFETY_SCAN_NS;
        }
      }
      s.stop = (word & STOP_BIT) != 0;
      s.scan = scan;
    }
    __syncthreads();
    const bool stop = s.stop != 0;
    const bool scan = s.scan != 0;
    __syncthreads();  // everyone read the decision before thread 0 writes it again
    if (stop) return;
    uint32_t taken = 0;
    bool pending = false;
    if (scan) {
      for (uint32_t shard = blockIdx.x, k = 0; shard < p.shards; shard += p.consumers, k++) {
        taken += consume_run(ring, p, shard, &cursors[k], &s, staging, lens, trace);
        if (t == 0) pending = pending || s.pending != 0;
      }
    }
    if (t == 0) {
      const uint64_t now = global_timer_ns();
      busy = taken > 0 || pending;
      if (busy) {
        last_work_ns = now;
        nap = 0;
      }
    }
    if (taken > 0) continue;  // uniform: every thread got the same `taken`
    // Nothing taken: nap. Thread 0 picks the length (the others wait for it at the next barrier).
    if (t == 0 && !busy) {
      const bool hot = global_timer_ns() - last_work_ns <= HOT_NS;
      if (p.wake_mode == WakeMode::WATCH) {
        // Looking again costs an L2 read: nap briefly while hot, longer once idle.
        nap = next_nap(nap, hot ? (p.idle_sleep_max_ns < HOT_L2_NAP_MAX_NS ? p.idle_sleep_max_ns : HOT_L2_NAP_MAX_NS) : p.idle_sleep_max_ns);
        if (nap > 0) __nanosleep(nap);
      } else if (!hot) {
        // Looking again is a PCIe round trip, which is nap enough while hot.
        nap = next_nap(nap, p.idle_sleep_max_ns);
        if (nap > 0) __nanosleep(nap);
      }
    }
  }
}
