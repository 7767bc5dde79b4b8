#!/usr/bin/env node
// Where a single message's round trip goes, phase by phase: the engine-level round trip (Producer +
// SlotRing.harvest, no public API) of 256-B checksum messages, one at a time, with the kernel's own
// %globaltimer stamps of each phase (a -DGQ_TRACE build: node scripts/build-kernels.mjs --out
// dist/kernels-trace -- -DGQ_TRACE). Host stamps are wall-clock ns (performance.timeOrigin + now), so the
// host→GPU and GPU→host legs are only as good as the agreement of the two clocks; the GPU-side phases are
// exact. Prints one JSON line per capacity with medians (p50) and p90s in µs.
//   node scripts/gpu-latency.mjs [--n 3000] [--capacities 64,4096]
//   GPUQUEUE_CUDA_WAKE (as for scripts/gpu-rtt.mjs), GPUQUEUE_CUDA_STAGING=global
process.env.GPUQUEUE_CUDA_TRACE = '1';
const { Producer } = await import('../dist/src/core/producer.js');
const { SlotRing } = await import('../dist/src/core/slot-ring.js');
const { CudaEngine } = await import('../dist/src/engines/cuda/cuda-engine.js');
const { planCudaRing } = await import('../dist/src/engines/cuda/plan.js');
const { resolveHandler } = await import('../dist/src/handlers/registry.js');

const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const n = Number(arg('--n', 3000));
const capacities = arg('--capacities', '64,4096').split(',').map(Number);
const kernelsDir = new URL('../dist/kernels-trace/', import.meta.url);

const hr0 = process.hrtime.bigint();
const wall0 = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const wallNs = () => wall0 + (process.hrtime.bigint() - hr0);
const stats = (values) => {
  const a = values.filter((v) => Number.isFinite(v)).sort((x, y) => x - y);
  const q = (p) => +(a[Math.min(a.length - 1, Math.floor(p * a.length))] ?? Number.NaN).toFixed(2);
  return { p50: q(0.5), p90: q(0.9) };
};

for (const capacity of capacities) {
  const plan = planCudaRing(capacity);
  const ring = SlotRing.create({ ...plan, shardCapacity: capacity / plan.shards, slotBytes: 256, resultBytes: 4 }, 3);
  let fault;
  const engine = new CudaEngine({ ring, handler: resolveHandler('checksum'), config: {}, onFault: (e) => (fault = e) }, { kernelsDir });
  await engine.start();
  const producer = new Producer(ring, { kind: 'hash' }, () => new Promise(setImmediate));
  const payload = Uint8Array.from({ length: 256 }, (_, i) => (i * 7) & 255);
  const host = new Map();
  const visit = () => {};
  for (let i = 0; i < n + 200 && !fault; i++) {
    const published = wallNs();
    const id = producer.tryEnqueue(payload);
    const enqueued = wallNs();
    let got = 0;
    while (got === 0) for (let s = 0; s < ring.layout.shards && got === 0; s++) got = ring.harvest(s, 1, visit);
    const seen = wallNs();
    if (i >= 200) host.set(id, { published, enqueued, seen });
  }
  const records = engine.readTrace();
  await engine.stop();
  const us = (a, b) => Number(b - a) / 1000;
  const rows = [];
  for (const r of records) {
    const h = host.get(Number(r.msgId));
    if (!h) continue;
    rows.push({
      rtt: us(h.published, h.seen),
      enqueueCall: us(h.published, h.enqueued),
      publishToProbeAnswer: us(h.enqueued, r.probeDone),
      probeRoundTrip: us(r.probeIssued, r.probeDone),
      window: us(r.probeDone, r.windowDone),
      stage: us(r.windowDone, r.staged),
      handler: us(r.staged, r.handled),
      doneFence: us(r.handled, r.done),
      doneToHostSeen: us(r.done, h.seen),
      smMHz: (Number(r.handlerCycles) / Number(r.handled - r.staged)) * 1000,
    });
  }
  const out = {
    capacity,
    wake: process.env.GPUQUEUE_CUDA_WAKE ?? 'default',
    describe: engine.describe(),
    traced: rows.length,
    fault: fault ? String(fault) : undefined,
  };
  for (const key of Object.keys(rows[0] ?? {})) out[key] = stats(rows.map((r) => r[key]));
  console.log(JSON.stringify(out));
}
process.exit(0);
