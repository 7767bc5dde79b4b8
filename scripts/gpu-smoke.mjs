#!/usr/bin/env node
// GPU smoke test of the cuda engine, run on the GPU machine after `npm run build && npm run build:kernels`:
// for each built-in handler, a ring is consumed by the persistent kernel while this thread produces
// (Producer) and harvests (SlotRing.harvest) many laps of messages; every completion must equal the JS
// reference run of the same handler (result bytes, status, attempts), per-key completions must keep
// enqueue order, and the fault handler's dead letters must be exactly those faultFails picks.
//   node scripts/gpu-smoke.mjs [--quick] [--rtt-only]
//     --quick: few messages, for compute-sanitizer; --rtt-only: the echo round trip alone.
//     GPUQUEUE_KERNELS_DIR: another PTX build (e.g. an ordering experiment); GPUQUEUE_IDLE_NS: the idle nap cap;
//     GPUQUEUE_CUDA_WAKE: the kernel's wake mode.
// Prints one JSON line per case and a summary; exits 1 on any mismatch.
import { pathToFileURL } from 'node:url';
import { QueueFullError } from '../dist/src/core/errors.js';
import { Producer } from '../dist/src/core/producer.js';
import { SlotOutcome } from '../dist/src/core/slot-layout.js';
import { SlotRing } from '../dist/src/core/slot-ring.js';
import { CudaEngine } from '../dist/src/engines/cuda/cuda-engine.js';
import { probeCuda } from '../dist/src/engines/cuda/driver/probe.js';
import { planCudaRing } from '../dist/src/engines/cuda/plan.js';
import { faultFails } from '../dist/src/handlers/fault/fault.js';
import { buildJsHandler, handlerResultBytes, resolveHandler } from '../dist/src/handlers/registry.js';

const quick = process.argv.includes('--quick');
const rttOnly = process.argv.includes('--rtt-only');
const engineOptions = {
  timeoutMs: quick ? 120_000 : 10_000,
  ...(process.env.GPUQUEUE_KERNELS_DIR ? { kernelsDir: pathToFileURL(`${process.env.GPUQUEUE_KERNELS_DIR}/`) } : {}),
  ...(process.env.GPUQUEUE_IDLE_NS ? { idleSleepMaxNs: Number(process.env.GPUQUEUE_IDLE_NS) } : {}),
};
const probe = probeCuda();
console.log(JSON.stringify({ probe }));
if (!probe.usable) {
  console.log(`skipped: ${probe.reason}`);
  process.exit(0);
}

let seed = 12345;
const random = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
};
const bytes = (n) => Uint8Array.from({ length: n }, () => (random() * 256) | 0);
const SPECIAL = [
  0,
  -0,
  1,
  -1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1e-45,
  -1e-45,
  1.17549435e-38,
  3.4e38,
  -3.4e38,
  0.1,
  1 / 3,
];
const floats = (n) => {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++)
    f[i] = random() < 0.1 ? SPECIAL[(random() * SPECIAL.length) | 0] : (random() - 0.5) * 10 ** ((random() * 20 - 10) | 0);
  return new Uint8Array(f.buffer);
};

/** The JS reference: the cpu engine's retry loop (consume-loop.ts) around the registry's JS handler. */
function reference(js, payload, id, maxRetries, resultBytes) {
  const buf = new ArrayBuffer(16 + Math.ceil(payload.length / 16) * 16 + Math.ceil(resultBytes / 16) * 16 + 16);
  const u8 = new Uint8Array(buf);
  u8.set(payload, 16);
  const resultOffset = 16 + Math.ceil(payload.length / 16) * 16;
  const msg = { bytes: u8, floats: new Float32Array(buf), offset: 16, length: payload.length, id, attempt: 0 };
  const out = { bytes: u8, floats: msg.floats, offset: resultOffset, capacity: resultBytes, length: 0 };
  let status = 1;
  let attempts = 0;
  while (attempts < 1 + maxRetries) {
    msg.attempt = attempts++;
    out.length = 0;
    status = js(msg, out);
    if (status === 0) break;
  }
  return { status, attempts, result: status === 0 ? u8.slice(resultOffset, resultOffset + out.length) : new Uint8Array(0) };
}

/** Bytes equal; for vector-stats, float lanes equal bit for bit or both NaN (JS picks NaN bits freely). */
function sameResult(spec, got, want) {
  if (Buffer.compare(Buffer.from(got), Buffer.from(want)) === 0) return true;
  if (spec.name !== 'vector-stats' || got.length !== want.length || got.length % 4 !== 0) return false;
  const a = new Float32Array(got.slice().buffer);
  const b = new Float32Array(want.slice().buffer);
  return a.every((x, i) => (Number.isNaN(x) && Number.isNaN(b[i])) || Object.is(x, b[i]));
}

const CASES = [
  { handler: 'echo', slotBytes: 256, make: () => bytes((random() * 257) | 0) },
  { handler: 'checksum', slotBytes: 1024, keys: 97, make: () => bytes((random() * 1025) | 0) },
  { handler: 'vector-stats', slotBytes: 1024, make: () => floats((random() * 257) | 0) },
  { handler: 'vector-stats', label: 'vector-stats bad payloads', slotBytes: 64, make: () => bytes(1 + ((random() * 63) | 0)) },
  { handler: { name: 'fault', inner: 'checksum', failRate: 0.05 }, slotBytes: 128, make: () => bytes((random() * 129) | 0) },
  {
    handler: { name: 'fault', inner: 'echo', failRate: 0.2, failAttempts: 2, seed: 7 },
    slotBytes: 64,
    make: () => bytes((random() * 65) | 0),
  },
  {
    handler: { name: 'slow', inner: { name: 'fault', inner: 'checksum', failRate: 0.1 }, delayUs: 20 },
    slotBytes: 64,
    count: 4000,
    make: () => bytes(64),
  },
];

async function runCase(c) {
  const spec = resolveHandler(c.handler);
  const label = c.label ?? JSON.stringify(c.handler);
  const capacity = 4096;
  const maxRetries = 3;
  const count = quick ? 500 : rttOnly ? 2000 : (c.count ?? 200_000);
  const plan = planCudaRing(capacity);
  const resultBytes = handlerResultBytes(spec, c.slotBytes);
  const ring = SlotRing.create({ ...plan, shardCapacity: capacity / plan.shards, slotBytes: c.slotBytes, resultBytes }, maxRetries);
  let fault;
  const engine = new CudaEngine(
    {
      ring,
      handler: spec,
      config: {},
      onFault: (e) => {
        fault = e;
      },
    },
    engineOptions,
  );
  const t0 = performance.now();
  await engine.start();
  const startMs = performance.now() - t0;
  const producer = new Producer(ring, { kind: 'hash' }, () => new Promise(setImmediate));
  const js = buildJsHandler(spec);
  const payloads = Array.from({ length: count }, c.make);
  const keyOf = (i) => (c.keys ? `k${i % c.keys}` : undefined);
  const indexOfId = new Map();
  const lastIdOfKey = new Map();
  const problems = [];
  let next = 0;
  let harvested = 0;
  let deadLetters = 0;
  let retries = 0;
  let faultMismatch = 0;
  let mismatches = 0;
  const fp = spec.name === 'fault' ? spec.params : spec.params.inner?.name === 'fault' ? spec.params.inner.params : undefined;
  const visit = (slot) => {
    const id = ring.idAt(slot);
    const i = indexOfId.get(id);
    indexOfId.delete(id);
    const want = reference(js, payloads[i], id, maxRetries, resultBytes);
    const status = ring.outcome(slot, SlotOutcome.HANDLER_STATUS);
    const attempts = ring.outcome(slot, SlotOutcome.ATTEMPTS);
    const got = ring.resultAt(slot);
    if (status !== want.status || attempts !== want.attempts || !sameResult(spec, got, want.result)) {
      mismatches++;
      if (problems.length < 5)
        problems.push({
          id,
          i,
          len: payloads[i].length,
          status,
          want: want.status,
          attempts,
          wantAttempts: want.attempts,
          got: Buffer.from(got).toString('hex').slice(0, 64),
          expected: Buffer.from(want.result).toString('hex').slice(0, 64),
        });
    }
    if (status !== 0) deadLetters++;
    retries += attempts - 1;
    if (fp && (status !== 0) !== faultFails(id, maxRetries, fp)) faultMismatch++;
    const key = keyOf(i);
    if (key !== undefined) {
      if ((lastIdOfKey.get(key) ?? 0) > id) problems.push({ id, key, error: 'per-key order broken' });
      lastIdOfKey.set(key, id);
    }
    harvested++;
  };
  const t1 = performance.now();
  let turns = 0;
  while (harvested < count && !fault) {
    while (next < count) {
      let id;
      try {
        id = producer.tryEnqueue(payloads[next], keyOf(next));
      } catch (error) {
        if (error instanceof QueueFullError) break;
        throw error;
      }
      indexOfId.set(id, next++);
    }
    let n = 0;
    for (let s = 0; s < ring.layout.shards; s++) n += ring.harvest(s, 1 << 30, visit);
    if (n === 0 && ++turns % 64 === 0) await new Promise(setImmediate);
    if (performance.now() - t1 > 120_000) {
      problems.push({ error: `stalled: ${harvested} of ${count} harvested` });
      break;
    }
  }
  const runMs = performance.now() - t1;
  const result = {
    case: label,
    messages: count,
    harvested,
    mismatches,
    deadLetters,
    retries,
    faultMismatch,
    problems,
    idleSleepMaxNs: engineOptions.idleSleepMaxNs ?? 10000,
    kernels: process.env.GPUQUEUE_KERNELS_DIR ?? 'dist/kernels',
    startMs: +startMs.toFixed(1),
    msgPerS: Math.round(harvested / (runMs / 1000)),
    describe: engine.describe(),
  };
  if (c.handler === 'echo' && !quick) {
    // Round trip of one message at a time (enqueue → kernel → harvest), after the kernel had been idle.
    await new Promise((r) => setTimeout(r, 2000));
    const rtt = [];
    const one = new Uint8Array(64);
    for (let i = 0; i < 20_000; i++) {
      const s = performance.now();
      const id = producer.tryEnqueue(one);
      indexOfId.set(id, 0);
      payloads[0] = one;
      let n = 0;
      while (n === 0) for (let sh = 0; sh < ring.layout.shards && n === 0; sh++) n = ring.harvest(sh, 1, visit);
      rtt.push((performance.now() - s) * 1000);
      if (i === 0) result.firstAfterIdleUs = +rtt[0].toFixed(1);
    }
    rtt.sort((a, b) => a - b);
    const q = (p) => +rtt[Math.min(rtt.length - 1, Math.floor(p * rtt.length))].toFixed(2);
    result.rttUs = { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1) };
  }
  const t2 = performance.now();
  await engine.stop();
  result.stopMs = +(performance.now() - t2).toFixed(1);
  if (fault) problems.push({ fault: String(fault) });
  result.ok = problems.length === 0 && faultMismatch === 0 && harvested >= count;
  console.log(JSON.stringify(result));
  return result.ok;
}

let ok = true;
for (const c of rttOnly ? CASES.slice(0, 1) : CASES) ok = (await runCase(c)) && ok;
console.log(ok ? 'SMOKE OK' : 'SMOKE FAILED');
process.exit(ok ? 0 : 1);
