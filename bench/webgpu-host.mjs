#!/usr/bin/env node
// The webgpu consumer's host-side cost per message, without a device: the batch loop's gather (READY →
// INFLIGHT, slots copied into a stage) and publish (outcomes into the slots, DONE) run on a full ring
// against a stand-in stage backed by plain memory, so what is timed is only the per-message JS work that
// is the same on every adapter (lavapipe here, the H100 there). Prints ns per message (median and min over
// batches of 4096) and writes nothing.
//   node bench/webgpu-host.mjs [--build DIR (default: dist)] [--seconds S] [--json (rows as JSON on stdout)]
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const root = new URL('../', import.meta.url);
const build = pathToFileURL(`${resolve(fileURLToPath(root), arg('--build', 'dist'))}/`);
const load = (path) => import(new URL(`src/${path}`, build).href);
const { SlotRing } = await load('core/slot-ring.js');
const { BatchConsumer } = await load('engines/webgpu/batch-consumer.js');
const stageModule = await load('engines/webgpu/batch-stage.js');
const deviceModule = await load('engines/webgpu/device-engine.js');
const SECONDS = Number(arg('--seconds', '1'));
const json = process.argv.includes('--json');
const rows = [];

/** A stage with the fields the consumer uses, over plain memory (both the old slotOffsets and the runs). */
function standInStage(capacity, stride, outcomeBytes) {
  const records = new Uint8Array(capacity * stride);
  return {
    capacity,
    count: 0,
    slotOffsets: new Float64Array(capacity),
    runOffsets: new Float64Array(capacity),
    runLengths: new Int32Array(capacity),
    runCount: 0,
    recordsView: () => records,
    outcomes: new Uint8Array(capacity * outcomeBytes),
  };
}

function measure({ label, slotBytes, resultBytes, payloadBytes = slotBytes, resultLen }) {
  const capacity = 4096;
  const ring = SlotRing.create({ shards: 1, consumers: 1, shardCapacity: capacity, slotBytes, resultBytes }, 3);
  const layout = ring.layout;
  const whole = deviceModule.stagesWholeSlots?.(resultBytes) ?? false;
  const stride = whole ? layout.slotStride : layout.resultOffset;
  const outcomeBytes = stageModule.outcomeRecordBytes(resultBytes);
  const stage = standInStage(capacity, stride, outcomeBytes);
  const ow = new Uint32Array(stage.outcomes.buffer);
  for (let j = 0; j < capacity; j++) ow.set([1, 0, resultLen], (j * outcomeBytes) / 4);
  const consumer = new BatchConsumer({
    ring,
    shards: [0],
    stages: [stage],
    stride,
    wholeSlots: whole,
    pipeline: undefined,
    maxBatch: capacity,
    spinUs: 0,
    holdMsPerAttempt: 0,
    onFault: (e) => {
      throw e;
    },
    loseDevice: () => {},
  });
  const payload = new Uint8Array(payloadBytes).fill(7);
  let id = 1;
  // Per batch of `capacity` messages: the median and the minimum over batches, robust to a shared
  // machine's preemptions (a mean is not).
  const gatherNs = [];
  const publishNs = [];
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    const pos = ring.claim(0, capacity);
    for (let i = 0; i < capacity; i++) ring.write(0, (pos + i) | 0, payload, id++, 0, false, 0);
    ring.publish(0, pos, capacity);
    const t0 = performance.now();
    const n = consumer.gather(stage);
    const t1 = performance.now();
    consumer.publish(stage, stage.outcomes.subarray(0, n * outcomeBytes));
    const t2 = performance.now();
    stage.runCount = 0;
    if (ring.harvest(0, capacity, () => {}) !== n || n !== capacity) throw new Error(`gathered ${n}, expected ${capacity}`);
    gatherNs.push(((t1 - t0) * 1e6) / n);
    publishNs.push(((t2 - t1) * 1e6) / n);
  }
  const stat = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { median: Number(sorted[Math.floor(sorted.length / 2)].toFixed(1)), min: Number(sorted[0].toFixed(1)) };
  };
  const g = stat(gatherNs);
  const p = stat(publishNs);
  rows.push({
    case: label,
    staged: whole ? 'whole slots' : 'records',
    batches: gatherNs.length,
    gatherNsPerMsg: g,
    publishNsPerMsg: p,
  });
  if (json) return;
  console.log(
    `${label.padEnd(34)} gather ${String(g.median).padStart(6)} ns/msg (min ${g.min})  publish ${String(p.median).padStart(6)} ns/msg (min ${p.min})  (${whole ? 'whole slots' : 'records'})`,
  );
}

measure({ label: 'checksum 256 B (result 4 B)', slotBytes: 256, resultBytes: 4, resultLen: 4 });
measure({ label: 'vector-stats 1 KB (result 16 B)', slotBytes: 1024, resultBytes: 16, resultLen: 16 });
measure({ label: 'echo 4 KB (result 4 KB)', slotBytes: 4096, resultBytes: 4096, resultLen: 4096 });
measure({ label: '64 B payloads in 4 KB slots', slotBytes: 4096, resultBytes: 16, payloadBytes: 64, resultLen: 4 });
if (json) console.log(JSON.stringify({ date: new Date().toISOString(), loadAverage1m: loadavg()[0], secondsPerCase: SECONDS, rows }));
