#!/usr/bin/env node
// What the owner thread's harvest costs per message when another thread published the slots, with and
// without the harvester's per-slot EMPTY store (`tail-only`: states tagged with the lap instead, so no
// store is needed): a worker thread writes a slot's header words and DONE for runs of 4096 slots of a
// 320-byte stride (a 256-B ring slot), the main thread reads each state, then stores EMPTY or not, for 2 s
// per round. Prints M msg/s and ns per message of busy harvest time. No gpuqueue code: the question is
// the cache-line traffic. bench/results/2026-11-24-webgpu-consumers-h100.md has the H100 answer.
//   node bench/harvest-probe.mjs
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const STRIDE = 320,
  N = 65536,
  STATE = 0;
if (isMainThread) {
  for (const mode of ['release-writes', 'tail-only', 'release-writes', 'tail-only']) {
    const sab = new SharedArrayBuffer(N * STRIDE + 64);
    const ctl = new Int32Array(sab, N * STRIDE, 16); // [0]=published count, [1]=harvested count, [2]=stop
    const i32 = new Int32Array(sab, 0, (N * STRIDE) / 4);
    const w = new Worker(new URL(import.meta.url), { workerData: { sab } });
    await new Promise((r) => w.once('message', r));
    let harvested = 0,
      busy = 0;
    const t0 = performance.now();
    const strideW = STRIDE / 4;
    const mask = N - 1;
    while (performance.now() - t0 < 2000) {
      const ts = performance.now();
      const pub = Atomics.load(ctl, 0);
      let n = 0;
      let idx = harvested & mask;
      // doneRun: read states until not DONE (parity tagged: DONE = 3 + lap*4)
      while (harvested + n < pub) {
        const lap = ((harvested + n) / N) & 1;
        if (Atomics.load(i32, idx * strideW + STATE) !== 3 + lap * 4) break;
        n++;
        idx = (idx + 1) & mask;
      }
      if (mode === 'release-writes') {
        let j = harvested & mask;
        for (let k = 0; k < n; k++) {
          i32[j * strideW + STATE] = 0;
          j = (j + 1) & mask;
        }
      }
      harvested += n;
      Atomics.store(ctl, 1, harvested);
      if (n > 0) busy += performance.now() - ts;
      else await new Promise((r) => setImmediate(r));
    }
    Atomics.store(ctl, 2, 1);
    await w.terminate();
    console.log(mode, `${(harvested / 2 / 1e6).toFixed(1)} M/s`, `${((busy * 1e6) / harvested).toFixed(1)} ns/msg busy`);
  }
} else {
  const { sab } = workerData;
  const ctl = new Int32Array(sab, N * STRIDE, 16);
  const i32 = new Int32Array(sab, 0, (N * STRIDE) / 4);
  parentPort.postMessage('ready');
  let pub = 0;
  const strideW = STRIDE / 4;
  const mask = N - 1;
  while (Atomics.load(ctl, 2) === 0) {
    const free = N - (pub - Atomics.load(ctl, 1));
    if (free < 4096) continue;
    for (let k = 0; k < 4096; k++) {
      const p = pub + k;
      const idx = p & mask;
      const b = idx * strideW;
      i32[b + 1] = 4;
      i32[b + 6] = 1;
      i32[b + 7] = 4;
      i32[b + 76] = p;
      Atomics.store(i32, b + STATE, 3 + ((p / N) & 1) * 4);
    }
    pub += 4096;
    Atomics.store(ctl, 0, pub);
  }
}
