// Micro-measurements of what the persistent kernel's protocol costs over PCIe (scripts/gpu-pcie-lab.mjs
// builds and runs it; not part of the engine). Block 0, thread 0 times one kind of operation on mapped
// host memory with %globaltimer; blocks 1..noise poll host memory meanwhile, the way a kernel with one
// poller per block would, until block 0 is done.
#include <stdint.h>

#include "../kernels/slot_layout.cuh"

struct LabParams {
  uint32_t test;
  uint32_t iters;
  uint32_t noise_mode;  // 0: each noise block polls its own line; 1: all poll one line; 2: old kernel (2 shared words, then its own)
  uint32_t noise_nap_ns;
  uint32_t dev_lo, dev_hi;  // device word: stop flag for the noise blocks
  uint32_t mask;            // 0 at run time: makes addresses depend on loaded values without changing them
};

namespace {
__device__ __forceinline__ uint64_t now_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
// The ordering helpers are the engine's own (slot_layout.cuh), so the lab measures exactly them.
using gq::ld_acquire_sys;
using gq::ld_relaxed_sys;
using gq::st_release_sys;
using gq::st_relaxed_sys;
using gq::ld_relaxed_gpu;
using gq::st_relaxed_gpu;
}  // namespace

// Host layout (bytes): 0..4095 timed words; 4096 results (u64 ns total, u64 sink); 8192 + 128 b: noise lines.
extern "C" __global__ void pcie_lab(uint8_t* host, LabParams p) {
  uint32_t* stop = reinterpret_cast<uint32_t*>(static_cast<uint64_t>(p.dev_lo) | (static_cast<uint64_t>(p.dev_hi) << 32));
  if (threadIdx.x != 0) return;
  if (blockIdx.x != 0) {
    uint32_t* own = reinterpret_cast<uint32_t*>(host + 8192 + (p.noise_mode == 1 ? 0 : 128 * blockIdx.x));
    uint32_t* shared_line = reinterpret_cast<uint32_t*>(host + 8192);
    uint32_t sink = 0;
    while (ld_relaxed_gpu(stop) == 0) {
      if (p.noise_mode == 2) {
        const uint32_t a = ld_relaxed_sys(shared_line);
        const uint32_t b = ld_relaxed_sys(shared_line + 1);
        sink += a + b;
        sink += ld_relaxed_sys(own + (sink & p.mask));
      } else {
        sink += ld_relaxed_sys(own);
      }
      if (p.noise_nap_ns) __nanosleep(p.noise_nap_ns);
    }
    if (sink == 0x12345678u) own[1] = sink;
    return;
  }
  if (p.test == 100) __trap();  // scripts/gpu-ctx-recovery.mjs: a kernel that kills its context
  uint32_t* w = reinterpret_cast<uint32_t*>(host);
  uint64_t* out = reinterpret_cast<uint64_t*>(host + 4096);
  uint32_t v = 0;
  // Let the noise blocks get going.
  const uint64_t warm = now_ns() + 200000;
  while (now_ns() < warm) {
  }
  const uint64_t t0 = now_ns();
  for (uint32_t i = 0; i < p.iters; i++) {
    switch (p.test) {
      case 0:  // one dependent relaxed.sys load: a PCIe round trip
        v += ld_relaxed_sys(w + (v & p.mask));
        break;
      case 1:  // one dependent acquire.sys load
        v += ld_acquire_sys(w + (v & p.mask));
        break;
      case 2: {  // 16 dependent 16-byte loads (the old checksum loop over a 256 B payload)
        const uint4* q = reinterpret_cast<const uint4*>(w + 64);
        for (uint32_t k = 0; k < 16; k++) {
          const uint4 x = __ldcv(q + k + (v & p.mask));
          v += x.x ^ x.w;
        }
        break;
      }
      case 3: {  // 16 independent 16-byte loads, all in flight, then used
        const uint4* q = reinterpret_cast<const uint4*>(w + 64 + (v & p.mask));
        uint4 x[16];
#pragma unroll
        for (uint32_t k = 0; k < 16; k++) x[k] = __ldcv(q + k);
#pragma unroll
        for (uint32_t k = 0; k < 16; k++) v += x[k].x ^ x[k].w;
        break;
      }
      case 4:  // a posted store, then fence.sc.sys (__threadfence_system)
        st_relaxed_sys(w + 256, i);
        __threadfence_system();
        break;
      case 5:  // a posted store, then st.release.sys (the DONE publication)
        st_relaxed_sys(w + 256, i);
        st_release_sys(w + 272, i);
        break;
      case 6:  // a posted store, then __threadfence_system, then st.release.sys (the old DONE path)
        st_relaxed_sys(w + 256, i);
        __threadfence_system();
        st_release_sys(w + 272, i);
        break;
      case 7:  // a posted store alone
        st_relaxed_sys(w + 256, i);
        break;
      case 8: {  // 3 independent relaxed loads (STOP, PAUSED, counter), then used: one round trip?
        const uint32_t a = ld_relaxed_sys(w + (v & p.mask));
        const uint32_t b = ld_relaxed_sys(w + 16 + (v & p.mask));
        const uint32_t c = ld_acquire_sys(w + 32 + (v & p.mask));
        v += a + b + c;
        break;
      }
      case 9: {  // relaxed HEAD + acquire STATE on another line, then used (the new probe)
        const uint32_t a = ld_relaxed_sys(w + (v & p.mask));
        const uint32_t b = ld_acquire_sys(w + 128 + (v & p.mask));
        v += a + b;
        break;
      }
      default:
        break;
    }
  }
  out[0] = now_ns() - t0;
  out[1] = v;
  st_relaxed_gpu(stop, 1);
}
