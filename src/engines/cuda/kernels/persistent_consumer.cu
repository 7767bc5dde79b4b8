// The cuda engine's consumer: ONE persistent kernel, launched once, consuming the shared slot ring in
// host memory mapped into the GPU. It does exactly what the cpu engine's consume-loop.ts does, with a
// block in the place of a worker thread; the handler is the `gq::process_message` pre-included by the
// build (scripts/build-kernels.mjs), wrapped by the fault/slow stages the host passes at launch.
// Ordering helpers and the layout: slot_layout.cuh. Protocol: docs/protocol.md.
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
  uint32_t wrapper_count;
  WrapperStage wrappers[MAX_WRAPPERS];
};

/// First idle nap; naps double up to `idle_sleep_max_ns` while nothing arrives.
constexpr uint32_t IDLE_SLEEP_MIN_NS = 32;
/// How often block 0 bumps Control.HEARTBEAT, busy or idle.
constexpr uint64_t HEARTBEAT_PERIOD_NS = 1000000;

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

/// One attempt: wrapper stages outermost first (as the JS wrappers call `inner`), then the leaf handler.
__device__ int run_attempt(const MsgView& msg, ResultView* out, const ConsumerParams& p) {
  const uint32_t stages = p.wrapper_count < MAX_WRAPPERS ? p.wrapper_count : MAX_WRAPPERS;
  for (uint32_t i = 0; i < stages; i++) {
    const WrapperStage& stage = p.wrappers[i];
    if (stage.kind == WrapperKind::FAULT && fault_fails(stage, msg.msg_id, msg.attempt)) return HandlerStatus::FAILED;
    if (stage.kind == WrapperKind::SLOW) slow_spin(stage);
    if (stage.kind == WrapperKind::CRASH) crash_maybe(stage, msg.msg_id, msg.attempt);
  }
  return process_message(msg, out);
}

/// Runs one message to its end and publishes it.
///   inputs:  a slot this thread saw READY through ld_acquire_sys (so its payload and header are visible)
///   outputs: header ATTEMPTS, HANDLER_STATUS, RESULT_LEN (0 unless OK) and the result area
///   status:  the handler's status on the last attempt (0 = OK); up to 1 + max_retries attempts
///   slots:   READY → INFLIGHT → DONE
__device__ void run_slot(uint32_t* header, const ConsumerParams& p) {
  st_relaxed_sys(header + SlotHeader::STATE, SlotState::INFLIGHT);
  uint8_t* slot = reinterpret_cast<uint8_t*>(header);
  MsgView msg;
  msg.payload = slot + HEADER_BYTES;
  msg.len = header[SlotHeader::PAYLOAD_LEN];
  msg.msg_id = (static_cast<uint64_t>(header[SlotHeader::ID_HI]) << 32) | header[SlotHeader::ID_LO];
  ResultView out;
  out.out = slot + p.result_offset;
  out.cap = p.result_capacity;
  // Attempts count on from the slot's value (stored before each run): a slot re-run after its consumer
  // died goes on counting, and one already at the limit ends as CONSUMER_DIED (engines/engine.ts).
  uint32_t attempts = header[SlotHeader::ATTEMPTS];
  int status = attempts > 0 ? HandlerStatus::CONSUMER_DIED : HandlerStatus::FAILED;
  while (attempts < 1 + p.max_retries) {
    msg.attempt = attempts++;
    st_relaxed_sys(header + SlotHeader::ATTEMPTS, attempts);
    out.len = 0;
    status = run_attempt(msg, &out, p);
    if (status == HandlerStatus::OK) break;
  }
  header[SlotHeader::HANDLER_STATUS] = static_cast<uint32_t>(status);
  header[SlotHeader::RESULT_LEN] = status == HandlerStatus::OK ? out.len : 0;
  // Publish DONE after the result is visible: the fence orders every store above before DONE for any
  // observer over PCIe, and the release store says the same in the memory model.
  __threadfence_system();
  st_release_sys(header + SlotHeader::STATE, SlotState::DONE);
}

struct BlockShared {
  uint32_t claimed;    // positions the producers claimed past the cursor (capped at the run limit)
  uint32_t first_gap;  // the first position of the run that is not READY yet
  uint32_t stop;
  uint32_t paused;
};

/// Takes the run of READY slots at the head of one shard, one slot per thread, and advances the cursor.
///   inputs:  the shard's cursor (in shared memory); HEAD (a hint: a claimed slot may not be READY yet)
///   outputs: CONSUMER_CURSOR (relaxed: for stats and recovery, it orders nothing)
///   slots:   the run, READY → INFLIGHT → DONE, in parallel; the harvester restores position order
/// Returns the run's length, the same in every thread. Every thread of the block must call it.
__device__ uint32_t consume_run(uint8_t* ring, const ConsumerParams& p, uint32_t shard, uint32_t* cursor, BlockShared* s) {
  const uint32_t t = threadIdx.x;
  // A run never wraps onto itself, so one slot is never taken twice in a run.
  const uint32_t limit = blockDim.x < p.shard_capacity ? blockDim.x : p.shard_capacity;
  if (t == 0) {
    const int32_t ahead = static_cast<int32_t>(ld_relaxed_sys(shard_word(ring, shard, ShardControl::HEAD)) - *cursor);
    s->claimed = ahead <= 0 ? 0 : (static_cast<uint32_t>(ahead) < limit ? static_cast<uint32_t>(ahead) : limit);
    s->first_gap = s->claimed;
  }
  __syncthreads();
  const uint32_t from = *cursor;
  const uint32_t claimed = s->claimed;
  if (claimed == 0) {
    __syncthreads();  // everyone read `claimed` before thread 0 writes it for the next shard
    return 0;
  }
  uint32_t* header = slot_header(ring, p, shard, from + t);
  // Acquire: READY was stored after the payload was written, so the payload is visible below.
  if (t < claimed && ld_acquire_sys(header + SlotHeader::STATE) != SlotState::READY) atomicMin(&s->first_gap, t);
  __syncthreads();
  const uint32_t run = s->first_gap;
  if (t < run) run_slot(header, p);
  __syncthreads();  // the whole run is DONE, and every thread read `from` and `run`
  if (t == 0 && run > 0) {
    *cursor = from + run;
    st_relaxed_sys(shard_word(ring, shard, ShardControl::CONSUMER_CURSOR), from + run);
  }
  return run;
}

}  // namespace gq

// gq_persistent_consumer — the cuda engine's one kernel
//   launch:  grid = CONSUMERS blocks (all resident at once), block ≤ 256 threads, dynamic shared memory
//            4 × ceil(shards / grid) bytes (one cursor per owned shard)
//   inputs:  ring = device address of the mapped ring; p = geometry, retries, idle nap cap, wrapper stages;
//            Control.STOP (exit), Control.PAUSED (take no new slot); per shard HEAD and slot STATE
//   outputs: per slot the result, RESULT_LEN, HANDLER_STATUS, ATTEMPTS; per shard CONSUMER_CURSOR;
//            Control.HEARTBEAT (block 0, every HEARTBEAT_PERIOD_NS and at start)
//   status:  traps (the host sees CUDA_ERROR_LAUNCH_FAILED) when the ring's MAGIC or LAYOUT_VERSION is
//            not this build's; handler statuses go to HANDLER_STATUS
//   slots:   READY → INFLIGHT → DONE, in position order per shard; never HEAD, HARVEST_TAIL or EMPTY, and
//            no read-modify-write on host memory (PCIe hosts need not support device atomics)
// Block b owns shards b, b + gridDim.x, … (shard s belongs to consumer s % CONSUMERS).
extern "C" __global__ void __launch_bounds__(256) gq_persistent_consumer(uint8_t* ring, gq::ConsumerParams p) {
  using namespace gq;
  extern __shared__ uint32_t cursors[];
  __shared__ BlockShared s;
  const uint32_t t = threadIdx.x;
  const bool beats = blockIdx.x == 0 && t == 0;
  if (t == 0) {
    if (ld_relaxed_sys(control_word(ring, Control::MAGIC)) != RING_MAGIC ||
        ld_relaxed_sys(control_word(ring, Control::LAYOUT_VERSION)) != RING_LAYOUT_VERSION) {
      __trap();
    }
    // Resume where an earlier consumer of these shards stopped.
    for (uint32_t shard = blockIdx.x, k = 0; shard < p.shards; shard += gridDim.x, k++) {
      cursors[k] = ld_relaxed_sys(shard_word(ring, shard, ShardControl::CONSUMER_CURSOR));
    }
  }
  uint32_t beat = 0;
  uint64_t next_beat_ns = 0;
  if (beats) {
    // The first beat tells the host the kernel is resident and consuming.
    beat = ld_relaxed_sys(control_word(ring, Control::HEARTBEAT)) + 1;
    st_relaxed_sys(control_word(ring, Control::HEARTBEAT), beat);
    next_beat_ns = global_timer_ns() + HEARTBEAT_PERIOD_NS;
  }
  uint32_t idle_ns = 0;
  for (;;) {
    if (t == 0) {
      s.stop = ld_relaxed_sys(control_word(ring, Control::STOP));
      s.paused = ld_relaxed_sys(control_word(ring, Control::PAUSED));
    }
    __syncthreads();
    const bool stop = s.stop == 1;
    const bool paused = s.paused == 1;
    __syncthreads();  // everyone read the flags before thread 0 writes them again
    if (stop) return;
    uint32_t taken = 0;
    if (!paused) {
      for (uint32_t shard = blockIdx.x, k = 0; shard < p.shards; shard += gridDim.x, k++) {
        taken += consume_run(ring, p, shard, &cursors[k], &s);
      }
    }
    if (beats && global_timer_ns() >= next_beat_ns) {
      st_relaxed_sys(control_word(ring, Control::HEARTBEAT), ++beat);
      next_beat_ns = global_timer_ns() + HEARTBEAT_PERIOD_NS;
    }
    if (taken > 0) {
      idle_ns = 0;
      continue;
    }
    // Idle: nap, doubling up to the cap, so an empty queue costs the GPU (and PCIe) next to nothing.
    idle_ns = idle_ns == 0 ? IDLE_SLEEP_MIN_NS : (idle_ns * 2 < p.idle_sleep_max_ns ? idle_ns * 2 : p.idle_sleep_max_ns);
    __nanosleep(idle_ns);
  }
}
