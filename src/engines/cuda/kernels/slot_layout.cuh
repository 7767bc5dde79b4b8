// The slot ring's layout for device code: the same numbers as src/core/slot-layout.ts (which owns them;
// test/engines/cuda-layout.test.ts parses this file and fails on any difference, in either direction),
// plus the memory-ordering helpers every access to the shared ring goes through. Values are literals on
// purpose, so the test can read them without a C++ evaluator.
#pragma once
#include <stdint.h>

namespace gq {

constexpr uint32_t RING_MAGIC = 0x47505551;  // "GPUQ"
constexpr uint32_t RING_LAYOUT_VERSION = 2;
constexpr uint32_t LINE_BYTES = 64;
constexpr uint32_t ID_COUNTER_BYTE = 128;
constexpr uint32_t CONTROL_BYTES = 256;
constexpr uint32_t SHARD_CONTROL_BYTES = 192;
constexpr uint32_t CONSUMER_DOORBELL_BYTES = 64;
constexpr uint32_t ENQUEUED_AT_BYTE = 24;
constexpr uint32_t HEADER_BYTES = 32;
constexpr uint32_t OUTCOME_BYTES = 16;
constexpr uint32_t AREA_ALIGN = 16;

// Int32 word indices of the control block.
namespace Control {
constexpr uint32_t MAGIC = 0;
constexpr uint32_t LAYOUT_VERSION = 1;
constexpr uint32_t SHARDS = 2;
constexpr uint32_t SHARD_CAPACITY = 3;
constexpr uint32_t SLOT_BYTES = 4;
constexpr uint32_t RESULT_BYTES = 5;
constexpr uint32_t PAYLOAD_AREA = 6;
constexpr uint32_t MAX_RETRIES = 7;
constexpr uint32_t CLOSED = 8;
constexpr uint32_t STOP = 9;
constexpr uint32_t PAUSED = 10;
constexpr uint32_t HEARTBEAT = 11;
constexpr uint32_t HARVEST_DOORBELL = 12;
constexpr uint32_t SPACE_DOORBELL = 13;
constexpr uint32_t SPACE_WAITERS = 14;
constexpr uint32_t ROUND_ROBIN = 15;
constexpr uint32_t CONSUMERS = 16;
/// Bumped by producers after each run of READY stores; polled by the watcher in wake mode `watch`.
constexpr uint32_t PUBLISHED = 48;
}  // namespace Control

// Int32 word offsets inside one shard's control area (one cache line per writer).
namespace ShardControl {
constexpr uint32_t HEAD = 0;
constexpr uint32_t CONSUMER_CURSOR = 16;
constexpr uint32_t HARVEST_TAIL = 32;
}  // namespace ShardControl

namespace SlotState {
constexpr uint32_t EMPTY = 0;
constexpr uint32_t READY = 1;
constexpr uint32_t INFLIGHT = 2;
constexpr uint32_t DONE = 3;
/// DONE on an odd lap of the shard (position & shard_capacity != 0): the harvester never stores EMPTY.
constexpr uint32_t DONE_ODD_LAP = 4;
}  // namespace SlotState

// A slot's fields live in five per-slot arrays (slot g = shard * SHARD_CAPACITY + index): states (one
// word per slot), headers (HEADER_BYTES, written by the producer), outcomes (OUTCOME_BYTES, written by the
// consumer; ATTEMPTS set to 0 by the producer), payloads and results (their areas, AREA_ALIGN-padded).
// The byte offsets of the arrays come from computeLayout and reach the kernel as launch parameters.

// Int32 word indices inside a slot header (written by the producer only; the enqueue time, a float64, is
// at ENQUEUED_AT_BYTE).
namespace SlotHeader {
constexpr uint32_t FLAGS = 0;
constexpr uint32_t PAYLOAD_LEN = 1;
constexpr uint32_t ID_LO = 2;
constexpr uint32_t ID_HI = 3;
constexpr uint32_t KEY_HASH = 4;
}  // namespace SlotHeader

// Int32 word indices inside a slot outcome (written by the consumer).
namespace SlotOutcome {
constexpr uint32_t ATTEMPTS = 0;
constexpr uint32_t RESULT_LEN = 1;
constexpr uint32_t HANDLER_STATUS = 2;
}  // namespace SlotOutcome

namespace SlotFlag {
constexpr uint32_t HAS_KEY = 1;
}  // namespace SlotFlag

// ---- memory ordering (PTX memory model) ------------------------------------------------------------
// The ring lives in host memory mapped into the GPU, shared with JS threads using Atomics (sequentially
// consistent) and with the host only through plain loads and stores: PCIe H100 has no host-native
// atomics, so nothing here is a read-modify-write on host memory. Every helper names its ordering and its
// scope; `.sys` scope is what makes the access order against the CPU, not only against other SMs.

#ifndef GQ_VOLATILE_POLL
/// Load, acquire, system scope: loads and stores after it (payload reads) happen after it, and see what
/// the host wrote before its matching release (a producer's READY store comes after the payload).
__device__ __forceinline__ uint32_t ld_acquire_sys(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

/// Load, relaxed, system scope: a fresh value of a word the host writes (a hint such as HEAD, or a control
/// flag such as STOP); orders nothing else, and is never served from a stale L1 line.
__device__ __forceinline__ uint32_t ld_relaxed_sys(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.relaxed.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

/// Store, release, system scope: every load and store before it (the result, the outcome words) is
/// visible to the host before this value is. Publishes DONE.
__device__ __forceinline__ void st_release_sys(uint32_t* p, uint32_t v) {
  asm volatile("st.release.sys.global.u32 [%0], %1;" : : "l"(p), "r"(v) : "memory");
}

/// Store, relaxed, system scope: a value the host may read at any time but that orders nothing (INFLIGHT,
/// CONSUMER_CURSOR, HEARTBEAT).
__device__ __forceinline__ void st_relaxed_sys(uint32_t* p, uint32_t v) {
  asm volatile("st.relaxed.sys.global.u32 [%0], %1;" : : "l"(p), "r"(v) : "memory");
}

#else
// Experiment (scripts/build-kernels.mjs -- -DGQ_VOLATILE_POLL): the same orderings built the way the
// probes were, from volatile accesses and explicit system fences, to compare their latency.
__device__ __forceinline__ uint32_t ld_acquire_sys(const uint32_t* p) {
  const uint32_t v = *reinterpret_cast<const volatile uint32_t*>(p);
  __threadfence_system();
  return v;
}
__device__ __forceinline__ uint32_t ld_relaxed_sys(const uint32_t* p) { return *reinterpret_cast<const volatile uint32_t*>(p); }
__device__ __forceinline__ void st_release_sys(uint32_t* p, uint32_t v) {
  __threadfence_system();
  *reinterpret_cast<volatile uint32_t*>(p) = v;
}
__device__ __forceinline__ void st_relaxed_sys(uint32_t* p, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(p) = v; }
#endif

// Device-memory (L2) orderings, GPU scope: for words only GPU threads share (the watcher's broadcast of
// STOP and PAUSED to the blocks), where the system scope's PCIe round trip buys nothing.

/// Load, acquire, GPU scope: later loads see what the storing block wrote before its release.
__device__ __forceinline__ uint32_t ld_acquire_gpu(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

/// Load, relaxed, GPU scope: a fresh value from L2, ordering nothing else.
__device__ __forceinline__ uint32_t ld_relaxed_gpu(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

/// Store, release, GPU scope: everything this thread wrote before is visible to a GPU-scope acquire of it.
__device__ __forceinline__ void st_release_gpu(uint32_t* p, uint32_t v) {
  asm volatile("st.release.gpu.global.u32 [%0], %1;" : : "l"(p), "r"(v) : "memory");
}

/// Store, relaxed, GPU scope: a value other blocks poll, ordering nothing.
__device__ __forceinline__ void st_relaxed_gpu(uint32_t* p, uint32_t v) {
  asm volatile("st.relaxed.gpu.global.u32 [%0], %1;" : : "l"(p), "r"(v) : "memory");
}

}  // namespace gq
