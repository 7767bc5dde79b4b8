#!/usr/bin/env node
// What the owner thread's harvest costs per message when another thread published the slots — the bound
// of both GPU engines' throughput once their consumers scale — for three layouts of the same information:
//   aos            today's ring: a 320-byte slot (a 256-B payload) whose 48-byte header holds state, id,
//                  attempts, result length and status, and whose result follows the payload;
//   aos-tail-only  the same without the harvester's per-slot EMPTY store (states tagged with the lap);
//   soa            states, ids, outcome words and results each in an array of their own, so one cache line
//                  carries 16 states, 8 ids, 4 outcome records or 16 results.
// A worker thread publishes runs of 4096 (outcome words, result, then DONE, as a consumer does); the main
// thread harvests: reads state, id, attempts, status, result length and result, then frees the slot, for
// 2 s per round, rounds interleaved. Prints M msg/s and ns per message of busy harvest time. No gpuqueue
// code: the question is the cache-line traffic (bench/results/2026-11-24-webgpu-consumers-h100.md).
// `--pins A:B,…` also runs each layout with the main thread pinned to core A and the worker to core B
// (sched_setaffinity through koffi), to see how much the distance between the two cores moves the cost.
//   node bench/harvest-probe.mjs [--rounds 2] [--pins 0:1,0:8,0:15]
import { createRequire } from 'node:module';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const ALL_CORES = -1;

/** Pins the calling thread to one core, or lets it run anywhere (ALL_CORES) (Linux); returns the core it then runs on. */
function pinTo(core) {
  const koffi = createRequire(import.meta.url)('koffi');
  const libc = koffi.load('libc.so.6');
  const setAffinity = libc.func('int sched_setaffinity(int pid, size_t cpusetsize, uint8_t *mask)');
  const mask = Buffer.alloc(128, core === ALL_CORES ? 0xff : 0);
  if (core !== ALL_CORES) mask[core >> 3] = 1 << (core & 7);
  if (setAffinity(0, mask.length, mask) !== 0) throw new Error(`sched_setaffinity to core ${core} failed`);
  return libc.func('int sched_getcpu()')();
}

const N = 65536;
const RUN = 4096;
const STRIDE_WORDS = 80; // 320-byte slot
const RESULT_WORD = 76; // byte 304: after the 48-byte header and the 256-byte payload
const DONE = 3;
const MODES = ['aos', 'aos-tail-only', 'soa'];

/** The views of one layout over a SharedArrayBuffer; `ctl` = [published, harvested, stop]. */
function views(sab, mode) {
  if (mode === 'soa') {
    return {
      ctl: new Int32Array(sab, 0, 16),
      states: new Int32Array(sab, 64, N),
      ids: new Float64Array(sab, 64 + 4 * N, N),
      outcomes: new Int32Array(sab, 64 + 12 * N, 4 * N), // attempts, status, result length, spare
      results: new Int32Array(sab, 64 + 28 * N, N),
    };
  }
  return { ctl: new Int32Array(sab, 0, 16), slots: new Int32Array(sab, 64, N * STRIDE_WORDS) };
}
const bytesFor = (mode) => (mode === 'soa' ? 64 + 32 * N : 64 + 4 * STRIDE_WORDS * N);
/** DONE tagged with the lap parity, so a harvester that never stores EMPTY cannot mistake last lap's DONE. */
const doneOf = (position) => DONE + ((position / N) & 1) * 4;

function harvestRound(v, mode, seconds) {
  return new Promise((resolve) => {
    let harvested = 0;
    let busy = 0;
    let sink = 0;
    const t0 = performance.now();
    const step = () => {
      while (performance.now() - t0 < seconds * 1000) {
        const ts = performance.now();
        const published = Atomics.load(v.ctl, 0);
        let n = 0;
        if (mode === 'soa') {
          const { states, ids, outcomes, results } = v;
          for (let p = harvested; p < published; p++, n++) {
            const i = p & (N - 1);
            if (Atomics.load(states, i) !== doneOf(p)) break;
            const o = i * 4;
            sink += ids[i] + outcomes[o] + outcomes[o + 1] + outcomes[o + 2] + results[i];
            states[i] = 0;
          }
        } else {
          const s = v.slots;
          const tailOnly = mode === 'aos-tail-only';
          for (let p = harvested; p < published; p++, n++) {
            const w = (p & (N - 1)) * STRIDE_WORDS;
            if (Atomics.load(s, w) !== doneOf(p)) break;
            sink += s[w + 2] + s[w + 3] * 4294967296 + s[w + 6] + s[w + 8] + s[w + 7] + s[w + RESULT_WORD];
            if (!tailOnly) s[w] = 0;
          }
        }
        harvested += n;
        Atomics.store(v.ctl, 1, harvested);
        if (n > 0) busy += performance.now() - ts;
        else return setImmediate(step);
      }
      resolve({ harvested, busy, sink });
    };
    step();
  });
}

if (isMainThread) {
  const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
  const rounds = Number(arg('--rounds') ?? 2);
  const pins = [
    [ALL_CORES, ALL_CORES],
    ...(arg('--pins')
      ?.split(',')
      .map((p) => p.split(':').map(Number)) ?? []),
  ];
  for (let r = 0; r < rounds; r++) {
    for (const [mainCore, workerCore] of pins) {
      const on = pinTo(mainCore);
      const where = mainCore === ALL_CORES ? 'unpinned' : `main on ${on}, worker on ${workerCore}`;
      for (const mode of MODES) {
        const sab = new SharedArrayBuffer(bytesFor(mode));
        const v = views(sab, mode);
        const worker = new Worker(new URL(import.meta.url), { workerData: { sab, mode, core: workerCore } });
        await new Promise((ok) => worker.once('message', ok));
        const { harvested, busy } = await harvestRound(v, mode, 2);
        Atomics.store(v.ctl, 2, 1);
        await worker.terminate();
        console.log(
          `${mode.padEnd(14)} ${(harvested / 2 / 1e6).toFixed(1).padStart(6)} M msg/s  ${((busy * 1e6) / harvested).toFixed(1).padStart(6)} ns/msg busy  (${where})`,
        );
      }
    }
  }
} else {
  const { sab, mode, core } = workerData;
  if (core !== ALL_CORES) pinTo(core);
  const v = views(sab, mode);
  parentPort.postMessage('ready');
  let published = 0;
  while (Atomics.load(v.ctl, 2) === 0) {
    if (N - (published - Atomics.load(v.ctl, 1)) < RUN) continue;
    for (let k = 0; k < RUN; k++) {
      const p = published + k;
      const i = p & (N - 1);
      if (mode === 'soa') {
        v.ids[i] = p;
        v.outcomes[i * 4] = 1;
        v.outcomes[i * 4 + 1] = 0;
        v.outcomes[i * 4 + 2] = 4;
        v.results[i] = p ^ 0x5bd1e995;
        Atomics.store(v.states, i, doneOf(p));
      } else {
        const w = i * STRIDE_WORDS;
        v.slots[w + 2] = p;
        v.slots[w + 6] = 1;
        v.slots[w + 7] = 4;
        v.slots[w + 8] = 0;
        v.slots[w + RESULT_WORD] = p ^ 0x5bd1e995;
        Atomics.store(v.slots, w, doneOf(p));
      }
    }
    published += RUN;
    Atomics.store(v.ctl, 0, published);
  }
}
