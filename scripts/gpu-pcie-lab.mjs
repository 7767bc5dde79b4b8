#!/usr/bin/env node
// What the persistent kernel's protocol costs over PCIe, one operation at a time (a lab, not a benchmark
// of the queue): src/engines/cuda/lab/pcie_lab.cu times, in one GPU thread, a dependent read of mapped
// host memory (a round trip), 16 dependent vs 16 parallel 16-byte reads, fences and release stores, with
// 0…128 other blocks polling host memory meanwhile (the old kernel had one poller per block), and with a
// host thread spinning on the same lines. Prints a table of ns per operation and one JSON line.
//   node scripts/gpu-pcie-lab.mjs        (needs npm run build, nvcc or dist/kernels-lab/pcie_lab.ptx)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CudaDriver } from '../dist/src/engines/cuda/driver/driver.js';
import { loadCudaLibrary } from '../dist/src/engines/cuda/driver/library.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const prebuilt = join(root, 'dist', 'kernels-lab', 'pcie_lab.ptx');
let ptxPath = prebuilt;
if (!existsSync(prebuilt)) {
  ptxPath = join(mkdtempSync(join(tmpdir(), 'gq-lab-')), 'pcie_lab.ptx');
  execFileSync(process.env.NVCC ?? 'nvcc', [
    '-arch=compute_90',
    '-ptx',
    '-std=c++17',
    join(root, 'src/engines/cuda/lab/pcie_lab.cu'),
    '-o',
    ptxPath,
  ]);
}

const driver = new CudaDriver(loadCudaLibrary());
driver.init();
const device = driver.device(0);
driver.retainPrimaryContext(device);
const fn = driver.kernel(driver.loadModule(readFileSync(ptxPath, 'latin1')), 'pcie_lab');
const sab = new SharedArrayBuffer(64 * 1024);
const hostAddress = driver.registerHost(sab);
const u64 = new BigUint64Array(sab, 4096, 2);
const stream = driver.createStream();
const stop = driver.allocDevice(256);

const TESTS = [
  [0, 'dependent ld.relaxed.sys (1 round trip)', 2000],
  [1, 'dependent ld.acquire.sys', 2000],
  [2, '16 dependent 16 B loads (old handler loop)', 200],
  [3, '16 parallel 16 B loads', 500],
  [4, 'posted store + fence.sc.sys', 2000],
  [5, 'posted store + st.release.sys', 2000],
  [6, 'store + fence.sc.sys + st.release.sys (old DONE)', 2000],
  [7, 'posted store alone', 2000],
  [8, '3 parallel loads (watcher round)', 2000],
  [9, 'relaxed HEAD + acquire STATE (probe)', 2000],
];
const CONFIGS = [
  { label: 'quiet', noise: 0, mode: 0, nap: 0 },
  { label: '+ host thread spinning on the lines', noise: 0, mode: 0, nap: 0, spin: true },
  { label: '16 blocks polling own lines', noise: 16, mode: 0, nap: 0 },
  { label: '64 blocks polling own lines', noise: 64, mode: 0, nap: 0 },
  { label: '128 blocks polling own lines', noise: 128, mode: 0, nap: 0 },
  { label: '64 blocks polling ONE line', noise: 64, mode: 1, nap: 0 },
  { label: '64 blocks, old-kernel poll (2 shared + own)', noise: 64, mode: 2, nap: 0 },
  { label: '64 blocks, old-kernel poll, 1 us naps', noise: 64, mode: 2, nap: 1000 },
];

function runOne(test, iters, cfg) {
  driver.fillDeviceAsync(stop, 0, 256, stream);
  const words = new Uint32Array([test, iters, cfg.mode, cfg.nap, Number(stop & 0xffffffffn), Number(stop >> 32n), 0]);
  driver.launch(fn, 1 + cfg.noise, 32, 0, stream, hostAddress, new Uint8Array(words.buffer));
  const deadline = performance.now() + 20_000;
  while (driver.streamState(stream) !== 'done') {
    if (performance.now() > deadline) throw new Error(`lab test ${test} did not finish`);
  }
  return Number(u64[0]) / iters;
}

const rows = [];
for (const cfg of CONFIGS) {
  let spinner;
  if (cfg.spin) {
    spinner = new Worker(
      `const { workerData } = require('node:worker_threads'); const w = new Int32Array(workerData, 0, 4096);
       let s = 0; for (;;) { for (let i = 0; i < 512; i += 16) s += Atomics.load(w, i); if (Atomics.load(w, 4000) === 1) break; }`,
      { eval: true, workerData: sab },
    );
    await new Promise((r) => setTimeout(r, 100));
  }
  const row = { config: cfg.label };
  for (const [test, , iters] of TESTS) {
    runOne(test, Math.min(iters, 50), cfg); // warm-up (module JIT, first touch)
    row[test] = +runOne(test, iters, cfg).toFixed(0);
  }
  if (spinner) {
    Atomics.store(new Int32Array(sab), 4000, 1);
    await spinner.terminate();
    Atomics.store(new Int32Array(sab), 4000, 0);
  }
  rows.push(row);
}

const width = 46;
console.log(`${'ns per operation'.padEnd(width)}${CONFIGS.map((_, i) => `c${i}`.padStart(8)).join('')}`);
for (const [test, name] of TESTS) console.log(`${name.padEnd(width)}${rows.map((r) => String(r[test]).padStart(8)).join('')}`);
for (const [i, c] of CONFIGS.entries()) console.log(`c${i}: ${c.label}`);
console.log(JSON.stringify({ lab: 'pcie', tests: Object.fromEntries(TESTS.map(([t, n]) => [t, n])), rows }));
process.exit(0);
