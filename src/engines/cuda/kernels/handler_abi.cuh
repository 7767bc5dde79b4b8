// What a CUDA handler sees, the device twin of src/handlers/handler.ts (seed 004 §4): a view of one
// message and of its result area, both in the shared ring (host memory mapped into the GPU), and a status
// to return. Handler status numbers are those of src/core/handler-status.ts (the layout test checks them).
//
// A leaf handler's .cu (src/handlers/<name>/<name>.cu) defines `gq::process_message`; the build
// pre-includes exactly one of them, with the wrapper handlers (fault, slow), ahead of the kernel.
#pragma once
#include <stdint.h>

namespace gq {

namespace HandlerStatus {
constexpr int OK = 0;
constexpr int FAILED = 1;
constexpr int RESULT_TOO_LARGE = 2;
constexpr int BAD_PAYLOAD = 3;
constexpr int THREW = 4;
// Set by the host when a consumer died holding the message; a device handler never returns it.
constexpr int CONSUMER_DIED = 5;
}  // namespace HandlerStatus

/// One message. `payload` is 16-byte aligned (AREA_ALIGN), so handlers may use 16-byte loads up to
/// `len` rounded up to 16 (the area is padded).
struct MsgView {
  const uint8_t* payload;
  uint32_t len;
  uint64_t msg_id;
  /// 0 on the first run, then 1, 2, … on retries.
  uint32_t attempt;
};

/// Where the result goes: `out[0, cap)`, 16-byte aligned; the handler sets `len`.
struct ResultView {
  uint8_t* out;
  uint32_t cap;
  uint32_t len;
};

/// Runs one attempt of one message; 0 (HandlerStatus::OK) is success, anything else fails the attempt.
__device__ int process_message(const MsgView& in, ResultView* out);

/// The GPU's global nanosecond timer (for handlers that wait, and the kernel's heartbeat).
__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

/// A wrapper stage the host passes at launch (fault, slow): wrappers run before the leaf, outermost first,
/// and may fail the attempt without running it — the same as the JS wrappers calling `inner`.
struct WrapperStage {
  uint32_t kind;
  uint32_t a, b, c, d;
};
namespace WrapperKind {
constexpr uint32_t FAULT = 1;
constexpr uint32_t SLOW = 2;
constexpr uint32_t CRASH = 3;
constexpr uint32_t HANG = 4;
}  // namespace WrapperKind
constexpr uint32_t MAX_WRAPPERS = 4;

/// fault (src/handlers/fault/fault.cu): whether this attempt of this message fails.
__device__ bool fault_fails(const WrapperStage& stage, uint64_t msg_id, uint32_t attempt);
/// slow (src/handlers/slow/slow.cu): busy-waits the stage's delay.
__device__ void slow_spin(const WrapperStage& stage);
/// crash (src/handlers/crash/crash.cu): traps (killing the context), or with kind HANG never returns, on chosen messages.
__device__ void crash_maybe(const WrapperStage& stage, uint64_t msg_id, uint32_t attempt);

}  // namespace gq
