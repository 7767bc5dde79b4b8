#!/usr/bin/env node
// The webgpu engine on its own, measured at the ring (producer → engine → harvest on this thread, no Queue
// on top), side by side in one run: the three ways a batch's records and payloads can reach the GPU, the
// consumer in a worker thread vs on the owner thread, the round trip of a lone message and of 256 at
// once, producers on threads of their own feeding one or more consumer threads, and the cpu engine (one
// worker) on the same workloads. Throughput cases run for a fixed time, several times (median, min, max). Prints
// one table and writes JSON (date, machine, adapter, versions) to bench/results/.
//   node bench/webgpu.mjs [--quick] [--build DIR (default: dist)] [--out FILE] [--only REGEX (case labels)]
//     [--label TEXT (stored in the JSON, e.g. before/after)] [--producers N (default 4: the producer-thread cases)]
//     [--consumers LIST (default 1,2: consumer threads in the producer-thread cases)]
//     [--max-batch N] [--stages N] (engine options; default: the engine's) [--ring-scale K (rings K× their default size)]
//     [--upload mapped|write-buffer|mapped-at-creation (cases that name none; default: the engine's)]
// Needs a build (npm run build) and the `webgpu` package (or GPUQUEUE_WEBGPU_MODULE=/path/to/index.js).
import { writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const quick = process.argv.includes('--quick');
const root = new URL('../', import.meta.url);
const build = pathToFileURL(`${resolve(fileURLToPath(root), arg('--build', 'dist'))}/`);
const load = (path) => import(new URL(`src/${path}`, build).href);

const { SlotRing } = await load('core/slot-ring.js');
const { resolveOptions } = await load('core/options.js');
const { resolveHandler } = await load('handlers/registry.js');
const { WebGpuEngine } = await load('engines/webgpu/webgpu-engine.js');
const { CpuEngine } = await load('engines/cpu/cpu-engine.js');
const { probeWebGpu } = await load('engines/webgpu/dawn.js');

const SECONDS = quick ? 0.3 : 1.5;
const REPEATS = quick ? 1 : 3;
const ROUND_TRIPS = quick ? 200 : 2000;
/** Engine options to try on a machine (undefined: the engine's defaults). */
const MAX_BATCH = arg('--max-batch') === undefined ? undefined : Number(arg('--max-batch'));
const STAGES = arg('--stages') === undefined ? undefined : Number(arg('--stages'));
/** The upload path of the cases that do not name one (undefined: the engine's default). */
const UPLOAD = arg('--upload');
/** Every case's ring is this many times its default size (bigger batches fit in flight). */
const RING_SCALE = Number(arg('--ring-scale', '1'));
/** A case's ring capacity, scaled. */
const capacityOf = (c) => (c.capacity ?? 4096) * RING_SCALE;

const turn = () => new Promise((r) => setImmediate(r));

/** A ring and its consumer, with produce/harvest helpers for this thread. */
async function rig(c) {
  const capacity = capacityOf(c);
  const config = resolveOptions({ capacity, slotBytes: c.slotBytes, maxRetries: 3, consumerSpinUs: 200 });
  const handler = resolveHandler(c.handler);
  const shards = Math.max(c.producers ?? 1, c.consumers ?? 1);
  const ring = SlotRing.create(
    { shards, consumers: c.consumers ?? 1, shardCapacity: capacity / shards, slotBytes: c.slotBytes, resultBytes: c.resultBytes },
    3,
  );
  const faults = [];
  const ctx = { ring, handler, config, onFault: (e) => faults.push(e) };
  const engine =
    c.engine === 'cpu'
      ? new CpuEngine(ctx, 1)
      : new WebGpuEngine(ctx, { thread: c.thread, upload: c.upload ?? UPLOAD, maxBatch: MAX_BATCH, stages: STAGES });
  await engine.start();
  let nextId = 1;
  return {
    engine,
    faults,
    /**
     * Publishes payloads from the pool, cyclically, while there is room; returns how many. Claims and
     * publishes all it can at once (as enqueueBatch does), so the producer's own cost stays small beside
     * the engine's: one CAS and one doorbell check per call, a header and a payload copy per message.
     */
    produce(pool, max = Number.POSITIVE_INFINITY) {
      const n = Math.min(max, ring.freeSlots(0));
      if (n <= 0) return 0;
      const pos = ring.claim(0, n);
      if (pos < 0) return 0;
      for (let i = 0; i < n; i++, nextId++) ring.write(0, (pos + i) | 0, pool[nextId % pool.length], nextId, 0, false, 0);
      ring.publish(0, pos, n);
      return n;
    },
    harvest: () => {
      let n = 0;
      for (let s = 0; s < shards; s++) n += ring.harvest(s, 1 << 20, () => {});
      return n;
    },
    /** Starts one producer thread per shard (bench/webgpu-producer.mjs); resolves to a function that stops them. */
    async startProducers(pool) {
      const stop = new SharedArrayBuffer(4);
      const workers = Array.from(
        { length: shards },
        (_, shard) =>
          new Worker(new URL('webgpu-producer.mjs', import.meta.url), {
            workerData: { sab: ring.sab, stop, shard, payloads: pool, build: build.href },
          }),
      );
      await Promise.all(workers.map((w) => new Promise((ok) => w.once('message', ok))));
      return async () => {
        Atomics.store(new Int32Array(stop), 0, 1);
        await Promise.all(workers.map((w) => new Promise((ok) => w.once('message', ok))));
        await Promise.all(workers.map((w) => w.terminate()));
      };
    },
    depth: () => ring.totalDepth(),
  };
}

function payloadPool(bytes, floats) {
  return Array.from({ length: 256 }, (_, i) => {
    if (floats) return new Uint8Array(Float32Array.from({ length: bytes / 4 }, (_, j) => Math.sin(i + j) * 100).buffer);
    const p = new Uint8Array(bytes);
    for (let j = 0; j < bytes; j++) p[j] = (i * 31 + j) & 255;
    return p;
  });
}

/** Keeps the ring full for `seconds`, then drains; messages per second. */
async function throughput(r, pool, seconds) {
  let inFlight = r.produce(pool);
  let done = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until || inFlight > 0) {
    const n = r.harvest();
    done += n;
    inFlight -= n;
    if (performance.now() < until) inFlight += r.produce(pool);
    await turn();
  }
  return done / ((performance.now() - started) / 1000);
}

/**
 * With producer threads (one per shard) keeping the ring full: messages harvested per second over
 * `seconds`, then the producers stop and the ring drains (not counted).
 */
async function threadedThroughput(r, pool, seconds) {
  const stopProducers = await r.startProducers(pool);
  let done = 0;
  let harvestMs = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  for (let t = started; t < until; ) {
    done += r.harvest();
    const after = performance.now();
    harvestMs += after - t;
    await turn();
    t = performance.now();
  }
  const elapsed = performance.now() - started;
  const rate = done / (elapsed / 1000);
  r.harvestShare = harvestMs / elapsed;
  await stopProducers();
  while (r.depth() > 0) {
    r.harvest();
    await turn();
  }
  return rate;
}

/** `batch` messages at a time: µs from publishing them to harvesting the last (1: a lone message). */
async function roundTrips(r, pool, count, batch = 1) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    let left = batch - r.produce(pool, batch);
    let done = 0;
    while (done < batch) {
      const n = r.harvest();
      done += n;
      if (n === 0) await turn();
      if (left > 0) left -= r.produce(pool, left);
    }
    times.push((performance.now() - t) * 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]);
  return { p50Us: at(0.5), p99Us: at(0.99) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(c) {
  const pool = payloadPool(c.slotBytes, c.handler === 'vector-stats');
  const r = await rig(c);
  const row = {
    case: c.label,
    engine: c.engine,
    handler: c.handler,
    payloadBytes: c.slotBytes,
    capacity: capacityOf(c),
    producers: c.producers ?? 'main thread',
    thread: c.thread,
    upload: c.upload ?? UPLOAD,
    batch: c.batch,
  };
  try {
    const run = c.producers ? threadedThroughput : throughput;
    await run(r, pool, Math.min(0.3, SECONDS)); // warm-up: shader compile, stage growth, JIT
    if (c.measure === 'throughput') {
      const runs = [];
      for (let i = 0; i < REPEATS; i++) runs.push(await run(r, pool, SECONDS));
      row.msgPerSec = Math.round(median(runs));
      row.minMsgPerSec = Math.round(Math.min(...runs));
      row.maxMsgPerSec = Math.round(Math.max(...runs));
      row.mbPerSec = Math.round((row.msgPerSec * c.slotBytes) / 1e6);
      // Share of the main thread's time spent harvesting in the last run (producer-thread cases): near 1, it is the bound.
      if (r.harvestShare !== undefined) row.harvestShare = +r.harvestShare.toFixed(2);
    } else {
      Object.assign(row, await roundTrips(r, pool, ROUND_TRIPS, c.batch ?? 1));
    }
  } finally {
    await r.engine.stop();
  }
  row.detail = r.engine.describe();
  if (r.engine.batchCounts) {
    const b = r.engine.batchCounts();
    row.meanBatch = b.batches > 0 ? Math.round(b.messages / b.batches) : 0;
    row.largestBatch = b.largestBatch;
  }
  if (r.faults.length > 0) row.fault = r.faults[0].message;
  console.error(
    `${c.label}: ${row.msgPerSec ? `${row.msgPerSec} msg/s (${row.minMsgPerSec}…${row.maxMsgPerSec})` : `p50 ${row.p50Us} µs, p99 ${row.p99Us} µs`}${row.harvestShare === undefined ? '' : `, main thread harvesting ${Math.round(row.harvestShare * 100)} %`}`,
  );
  return row;
}

function cases() {
  // The ring holds 16 k slots (4 k of 4 KB), so batches can grow past the engine's first sizes.
  const checksum = { handler: 'checksum', slotBytes: 256, resultBytes: 4, capacity: 16384 };
  const echo4k = { handler: 'echo', slotBytes: 4096, resultBytes: 4096, capacity: 4096 };
  // 4 KB in, 4 bytes back: the payload direction alone.
  const checksum4k = { handler: 'checksum', slotBytes: 4096, resultBytes: 4, capacity: 4096 };
  const stats1k = { handler: 'vector-stats', slotBytes: 1024, resultBytes: 16, capacity: 16384 };
  const list = [];
  for (const upload of ['mapped', 'write-buffer', 'mapped-at-creation']) {
    list.push({
      label: `upload ${upload}: checksum 256 B`,
      engine: 'webgpu',
      thread: 'worker',
      upload,
      measure: 'throughput',
      ...checksum,
    });
    list.push({ label: `upload ${upload}: echo 4 KB`, engine: 'webgpu', thread: 'worker', upload, measure: 'throughput', ...echo4k });
  }
  for (const thread of ['worker', 'owner']) {
    list.push({ label: `${thread} thread: checksum 256 B`, engine: 'webgpu', thread, measure: 'throughput', ...checksum });
    list.push({ label: `${thread} thread: vector-stats 1 KB`, engine: 'webgpu', thread, measure: 'throughput', ...stats1k });
    list.push({ label: `${thread} thread: echo 4 KB`, engine: 'webgpu', thread, measure: 'throughput', ...echo4k });
    list.push({ label: `${thread} thread: round trip, checksum 256 B`, engine: 'webgpu', thread, measure: 'round trip', ...checksum });
    list.push({
      label: `${thread} thread: round trip of 256, checksum 256 B`,
      engine: 'webgpu',
      thread,
      measure: 'round trip',
      batch: 256,
      ...checksum,
    });
  }
  // Producers on threads of their own (one shard each), the engine's consumers each on a worker thread
  // of its own (one device per consumer, shard s → consumer s % consumers).
  const producers = Number(arg('--producers', '4'));
  for (const consumers of (arg('--consumers') ?? '1,2').split(',').map(Number)) {
    const who = `${producers} producer threads, ${consumers} consumer${consumers === 1 ? '' : 's'}`;
    for (const [what, shape] of [
      ['checksum 256 B', checksum],
      ['checksum 4 KB', checksum4k],
      ['echo 4 KB', echo4k],
    ]) {
      list.push({ label: `${who}: ${what}`, engine: 'webgpu', thread: 'worker', measure: 'throughput', producers, consumers, ...shape });
    }
  }
  list.push({ label: 'cpu (1 worker): checksum 256 B', engine: 'cpu', measure: 'throughput', ...checksum });
  list.push({ label: 'cpu (1 worker): vector-stats 1 KB', engine: 'cpu', measure: 'throughput', ...stats1k });
  list.push({ label: 'cpu (1 worker): echo 4 KB', engine: 'cpu', measure: 'throughput', ...echo4k });
  list.push({ label: 'cpu (1 worker): round trip, checksum 256 B', engine: 'cpu', measure: 'round trip', ...checksum });
  list.push({ label: 'cpu (1 worker): round trip of 256, checksum 256 B', engine: 'cpu', measure: 'round trip', batch: 256, ...checksum });
  const only = arg('--only');
  return only ? list.filter((c) => new RegExp(only).test(c.label)) : list;
}

async function main() {
  const probe = await probeWebGpu();
  if (!probe.usable) {
    console.error(`webgpu bench: ${probe.reason}`);
    process.exit(1);
  }
  const rows = [];
  for (const c of cases()) rows.push(await measure(c));
  const width = Math.max(...rows.map((r) => r.case.length));
  console.log(
    `${'case'.padEnd(width)}  ${'msg/s'.padStart(9)}  ${'MB/s'.padStart(6)}  ${'p50 µs'.padStart(7)}  ${'p99 µs'.padStart(7)}  mean batch`,
  );
  for (const r of rows) {
    const cells = [r.msgPerSec ?? '', r.mbPerSec ?? '', r.p50Us ?? '', r.p99Us ?? ''].map((v, i) => String(v).padStart([9, 6, 7, 7][i]));
    console.log(`${r.case.padEnd(width)}  ${cells.join('  ')}  ${r.meanBatch ?? ''}${r.fault ? `  FAULT ${r.fault}` : ''}`);
  }
  const pkg = (await import(new URL('package.json', root), { with: { type: 'json' } })).default;
  const date = new Date().toISOString();
  const result = {
    date,
    machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model, loadAverage1m: loadavg()[0] },
    adapter: probe.adapter,
    versions: { node: process.version, gpuqueue: pkg.version, webgpu: pkg.optionalDependencies?.webgpu },
    label: arg('--label'),
    build: fileURLToPath(build),
    method: {
      secondsPerRun: SECONDS,
      repeats: REPEATS,
      roundTrips: ROUND_TRIPS,
      quick,
      maxBatch: MAX_BATCH ?? 'default',
      ringScale: RING_SCALE,
      stages: STAGES ?? 'default',
      measuredAt: 'the ring (no Queue): produce (all free slots claimed at once) and harvest on the main thread',
    },
    rows,
  };
  const kind = probe.adapter.software ? 'lavapipe' : 'gpu';
  const out = arg('--out', fileURLToPath(new URL(`bench/results/${date.slice(0, 10)}-webgpu-${kind}.json`, root)));
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.error(`wrote ${out}`);
  process.exit(0);
}

await main();
