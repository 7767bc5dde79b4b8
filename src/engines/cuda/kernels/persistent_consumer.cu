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
// - A block looks at its own shard (wake mode POLL, the default: its HEAD and its next slot's STATE, one
//   round trip, lines no other block reads); a single new message is then taken without reading any other
//   STATE. Pollers on distinct lines cost fences far less (1.4-1.7 µs instead of 0.8 µs quiet).
// - A run's headers and payloads are staged by the whole block at once, 16 B per thread per load with
//   several loads in flight (one round trip for a run of small messages), into shared memory when it
//   fits, else device memory, so the handler never reads PCIe. (The old handler loop made one dependent
//   PCIe read per 16 B: 16 round trips for 256 B.)
// - Results are written straight to host memory (posted writes), then DONE with one release store per
//   slot, for the whole run at once (after a barrier: a fault never leaves DONE behind an unfinished slot).
#include "handler_abi.cuh"
#include "slot_layout.cuh"

namespace gq {

/// Launch parameters, passed by value. The host encodes them as 32-bit words in this order
/// (src/engines/cuda/launch-params.ts); keep the two in step.
struct ConsumerParams {
  uint32_t shards;
  uint32_t shard_capacity;   // a power of two
  uint32_t slot_stride;      // bytes
  uint32_t slots_offset;     // bytes from the ring base to shard 0's first slot
  uint32_t result_offset;    // bytes from a slot to its result area
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
/// Each block polls its own shard (HEAD and the next slot's STATE, one round trip) while hot; STOP and
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
constexpr uint32_t HEADER_CHUNKS = HEADER_BYTES / 16;
constexpr uint32_t LOADS_IN_FLIGHT = 8;
constexpr uint32_t MAX_BLOCK_THREADS = 256;

// ---- optional phase timestamps (build with -DGQ_TRACE; scripts/gpu-latency.mjs reads them) ----------
constexpr uint32_t TRACE_RECORDS = 64;
struct TraceRecord {
  uint64_t msg_id;
  uint64_t probe_issued;  // %globaltimer ns: the look at the shard that found this slot began
  uint64_t probe_done;    // its HEAD and STATE answers are back
  uint64_t window_done;   // the other slots' STATE answers are back (= probe_done for a run of 1)
  uint64_t staged;        // header and payload are in the staging area
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

/// A slot's header, for any wrapped 32-bit position of its shard.
__device__ __forceinline__ uint32_t* slot_header(uint8_t* ring, const ConsumerParams& p, uint32_t shard, uint32_t position) {
  const uint64_t index = static_cast<uint64_t>(shard) * p.shard_capacity + (position & (p.shard_capacity - 1));
  return reinterpret_cast<uint32_t*>(ring + p.slots_offset + index * p.slot_stride);
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
///   inputs:  a slot seen READY through ld_acquire_sys; its header words 0..11 (`h`, staged) and its
///            payload staged (`staged`, payload_area bytes, in shared or device memory)
///   outputs: header ATTEMPTS, HANDLER_STATUS, RESULT_LEN (0 unless OK) and the result area, in host memory
///   status:  the handler's status on the last attempt (0 = OK); up to 1 + max_retries attempts
///   slots:   READY → INFLIGHT
__device__ void run_slot(uint32_t* header, const ConsumerParams& p, const uint8_t* staged, const uint4* h,
                         TraceRecord* trace) {
  st_relaxed_sys(header + SlotHeader::STATE, SlotState::INFLIGHT);
  uint8_t* slot = reinterpret_cast<uint8_t*>(header);
  MsgView msg;
  msg.payload = staged;
  // Producers never write more than slotBytes; the clamp only keeps a corrupt header inside the staging.
  msg.len = h[0].y < p.payload_area ? h[0].y : p.payload_area;
  msg.msg_id = (static_cast<uint64_t>(h[0].w) << 32) | h[0].z;
  ResultView out;
  out.out = slot + p.result_offset;
  out.cap = p.result_capacity;
  // Attempts count on from the slot's value (stored before each run): a slot re-run after its consumer
  // died goes on counting, and one already at the limit ends as CONSUMER_DIED (engines/engine.ts).
  uint32_t attempts = h[1].z;  // SlotHeader::ATTEMPTS is word 6
  int status = attempts > 0 ? HandlerStatus::CONSUMER_DIED : HandlerStatus::FAILED;
  GQ_TRACE_ONLY(const uint64_t c0 = clock64(); trace->msg_id = msg.msg_id; trace->staged = global_timer_ns();)
  while (attempts < 1 + p.max_retries) {
    msg.attempt = attempts++;
    st_relaxed_sys(header + SlotHeader::ATTEMPTS, attempts);
    out.len = 0;
    status = run_attempt(msg, &out, p);
    if (status == HandlerStatus::OK) break;
  }
  GQ_TRACE_ONLY(trace->handler_cycles = clock64() - c0; trace->handled = global_timer_ns();)
  header[SlotHeader::HANDLER_STATUS] = static_cast<uint32_t>(status);
  header[SlotHeader::RESULT_LEN] = status == HandlerStatus::OK ? out.len : 0;
  (void)trace;
}

/// INFLIGHT → DONE, after the result is visible: the release store orders every store this thread made
/// (the result, the header words) before DONE for any observer, the host over PCIe included.
__device__ __forceinline__ void publish_done(uint32_t* header, TraceRecord* trace) {
  st_release_sys(header + SlotHeader::STATE, SlotState::DONE);
  GQ_TRACE_ONLY(trace->done = global_timer_ns();)
  (void)trace;
}

struct BlockShared {
  uint32_t stop;
  uint32_t scan;
  uint32_t claimed;    // slots to look at in this run (0: nothing READY at the cursor)
  uint32_t first_gap;  // the first position of the run that is not READY yet
  uint32_t pending;    // HEAD is past the cursor but the slot there is not READY yet: look again soon
  uint32_t need_more;  // some payload of the run is longer than the first staging pass
  uint64_t probe_issued, probe_done, window_done;  // GQ_TRACE builds only
};

/// Copies the headers (to shared memory) and payloads (to device memory) of slots [from, from + run) of a
/// shard, the whole block at once: item i of the first pass is 16-byte chunk i % F of slot i / F (three
/// header chunks, then the first payload chunks: the payload follows the header in the slot, so chunk c
/// is at byte 16 c); each thread keeps LOADS_IN_FLIGHT loads in flight before it stores any, so a run
/// costs about one PCIe round trip per LOADS_IN_FLIGHT x 16 B x blockDim. A second pass fetches the rest
/// of payloads longer than the first pass. Every thread of the block must call it; ends with a barrier.
///   inputs:  the slots, READY and acquired (ld_acquire_sys, then a barrier)
///   outputs: hdr[j][0..2] = header chunks of slot j; staging + j * payload_area = its payload
__device__ void stage_run(uint8_t* ring, const ConsumerParams& p, uint32_t shard, uint32_t from, uint32_t run, uint8_t* staging,
                          uint4 (*hdr)[HEADER_CHUNKS], BlockShared* s) {
  const uint32_t t = threadIdx.x;
  const uint32_t chunks = p.payload_area / 16;
  const uint32_t first = chunks < FIRST_PASS_PAYLOAD_CHUNKS ? chunks : FIRST_PASS_PAYLOAD_CHUNKS;
  const uint32_t per_slot = HEADER_CHUNKS + first;
  const uint32_t total = run * per_slot;
  if (t == 0) s->need_more = 0;
  for (uint32_t base = 0; base < total; base += blockDim.x * LOADS_IN_FLIGHT) {
    uint4 v[LOADS_IN_FLIGHT] = {};
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total) {
        const uint32_t j = i / per_slot;
        const uint32_t c = i - j * per_slot;
        v[k] = reinterpret_cast<const uint4*>(slot_header(ring, p, shard, from + j))[c];
      }
    }
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total) {
        const uint32_t j = i / per_slot;
        const uint32_t c = i - j * per_slot;
        if (c < HEADER_CHUNKS) hdr[j][c] = v[k];
        else reinterpret_cast<uint4*>(staging + static_cast<uint64_t>(j) * p.payload_area)[c - HEADER_CHUNKS] = v[k];
      }
    }
  }
  __syncthreads();
  if (chunks <= first) return;
  // Second pass: payload chunks [first, ceil(len / 16)) of each slot, flattened over the block likewise.
  if (t < run && hdr[t][0].y > first * 16) atomicOr(&s->need_more, 1u);
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
        if (c * 16 < hdr[j][0].y) v[k] = reinterpret_cast<const uint4*>(slot_header(ring, p, shard, from + j))[HEADER_CHUNKS + c];
      }
    }
#pragma unroll
    for (uint32_t k = 0; k < LOADS_IN_FLIGHT; k++) {
      const uint32_t i = base + k * blockDim.x + t;
      if (i < total2) {
        const uint32_t j = i / rest;
        const uint32_t c = first + (i - j * rest);
        if (c * 16 < hdr[j][0].y) reinterpret_cast<uint4*>(staging + static_cast<uint64_t>(j) * p.payload_area)[c] = v[k];
      }
    }
  }
  __syncthreads();
}

/// Takes the run of READY slots at the head of one shard, one slot per thread, and advances the cursor.
///   inputs:  the shard's cursor (in shared memory); HEAD (a hint: a claimed slot may not be READY yet)
///   outputs: CONSUMER_CURSOR (relaxed: for stats and recovery, it orders nothing); s->pending
///   slots:   the run, READY → INFLIGHT in parallel, then all of it → DONE; the harvester takes DONE slots
///            in position order
/// Returns the run's length, the same in every thread. Every thread of the block must call it.
__device__ uint32_t consume_run(uint8_t* ring, const ConsumerParams& p, uint32_t shard, uint32_t* cursor, BlockShared* s,
                                uint8_t* staging, uint4 (*hdr)[HEADER_CHUNKS], TraceRecord* trace) {
  const uint32_t t = threadIdx.x;
  // A run never wraps onto itself, so one slot is never taken twice in a run.
  const uint32_t limit = blockDim.x < p.shard_capacity ? blockDim.x : p.shard_capacity;
  const uint32_t from = *cursor;
  if (t == 0) {
    GQ_TRACE_ONLY(s->probe_issued = global_timer_ns();)
    // One round trip: HEAD (how many were claimed) and the next slot's STATE (acquire: is it READY, and
    // if so its header and payload are visible to the loads after the barrier below).
    const uint32_t head = ld_relaxed_sys(shard_word(ring, shard, ShardControl::HEAD));
    const bool ready = ld_acquire_sys(slot_header(ring, p, shard, from) + SlotHeader::STATE) == SlotState::READY;
    const int32_t ahead = static_cast<int32_t>(head - from);
    uint32_t claimed = ahead <= 0 ? 0 : (static_cast<uint32_t>(ahead) < limit ? static_cast<uint32_t>(ahead) : limit);
    if (ready && claimed == 0) claimed = 1;  // HEAD was read before the producer's claim reached it
    s->claimed = ready ? claimed : 0;
    s->pending = !ready && ahead > 0;
    s->first_gap = s->claimed;
    GQ_TRACE_ONLY(s->probe_done = s->window_done = global_timer_ns();)
  }
  __syncthreads();
  const uint32_t claimed = s->claimed;
  if (claimed == 0) {
    __syncthreads();  // everyone read `claimed` before thread 0 writes it for the next shard
    return 0;
  }
  if (claimed > 1) {
    // Acquire: READY was stored after the payload was written, so the payload is visible below.
    if (t > 0 && t < claimed && ld_acquire_sys(slot_header(ring, p, shard, from + t) + SlotHeader::STATE) != SlotState::READY) {
      atomicMin(&s->first_gap, t);
    }
    __syncthreads();
    GQ_TRACE_ONLY(if (t == 0) s->window_done = global_timer_ns(); __syncthreads();)
  }
  const uint32_t run = s->first_gap;
  stage_run(ring, p, shard, from, run, staging, hdr, s);
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
  uint32_t* header = slot_header(ring, p, shard, from + t);
  if (t < run) run_slot(header, p, staging + static_cast<uint64_t>(t) * p.payload_area, hdr[t], record);
  // DONE only once every handler of the run returned: a handler that traps (or faults) never reaches
  // this barrier, so a dead kernel leaves a run all INFLIGHT, never a DONE slot behind an unfinished one
  // (which the harvester could not pass, and a cpu fallback resuming at the first unfinished slot would
  // stop at). Costs nothing in the round trip of a run of one.
  __syncthreads();
  if (t < run) publish_done(header, record);
  __syncthreads();  // the whole run is DONE, and every thread read `from`, `run` and its header
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
//   inputs:  ring = device address of the mapped ring; p = geometry, retries, idle nap cap, device scratch,
//            wake mode, publish counter, wrapper stages; Control.STOP (exit), Control.PAUSED (take no new
//            slot); per shard HEAD and slot STATE
//   outputs: per slot the result, RESULT_LEN, HANDLER_STATUS, ATTEMPTS; per shard CONSUMER_CURSOR;
//            Control.HEARTBEAT (the watcher, once every block runs, then every HEARTBEAT_PERIOD_NS in which
//            every block made progress: it stops while a handler does not return)
//   status:  traps (the host sees CUDA_ERROR_LAUNCH_FAILED) when the ring's MAGIC or LAYOUT_VERSION is
//            not this build's, or when Control.STOP is 2 (the host's watchdog ending a stuck handler);
//            handler statuses go to HANDLER_STATUS
//   slots:   READY → INFLIGHT → DONE, in runs taken in position order per shard (a run's slots become DONE
//            together, after all its handlers returned); never HEAD, HARVEST_TAIL or EMPTY, and
//            no read-modify-write on host memory (PCIe hosts need not support device atomics)
// Block b < CONSUMERS owns shards b, b + CONSUMERS, … (shard s belongs to consumer s % CONSUMERS).
extern "C" __global__ void __launch_bounds__(256) gq_persistent_consumer(uint8_t* ring, gq::ConsumerParams p) {
  using namespace gq;
  extern __shared__ uint4 dynamic_shared[];  // the cursors, then (staging_shared) the staged payloads
  uint32_t* cursors = reinterpret_cast<uint32_t*>(dynamic_shared);
  __shared__ BlockShared s;
  __shared__ uint4 hdr[MAX_BLOCK_THREADS][HEADER_CHUNKS];
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
        taken += consume_run(ring, p, shard, &cursors[k], &s, staging, hdr, trace);
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
