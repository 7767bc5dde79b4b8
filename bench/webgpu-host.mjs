#!/usr/bin/env node
// The webgpu consumer's host-side cost per message, without a device: the batch loop's gather (READY →
// INFLIGHT, records and payloads copied into a stage) and publish (results and outcomes into the ring's
// arrays, DONE) run on a full ring
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
const { OUTCOME_BYTES } = await load('core/slot-layout.js');
const SECONDS = Number(arg('--seconds', '1'));
const json = process.argv.includes('--json');
const rows = [];

/** A stand-in stage with the fields the consumer uses, over plain memory (the readback as run() returns it). */
function standInStage(capacity, payloadArea, resultArea) {
  const memory = new ArrayBuffer(capacity * (stageModule.MESSAGE_RECORD_BYTES + payloadArea));
  const at = capacity * stageModule.MESSAGE_RECORD_BYTES;
  const view = {
    messages: new Int32Array(memory, 0, at / 4),
    payloads: new Uint8Array(memory, at, capacity * payloadArea),
    payloadWords: new Int32Array(memory, at, (capacity * payloadArea) / 4),
  };
  return {
    capacity,
    count: 0,
    runSlots: new Int32Array(capacity),
    runLengths: new Int32Array(capacity),
    runDone: new Int32Array(capacity),
    runCount: 0,
    staging: () => view,
    readback: new Uint8Array(capacity * (OUTCOME_BYTES + resultArea)),
  };
}

function measure({ label, slotBytes, resultBytes, payloadBytes = slotBytes, resultLen }) {
  const capacity = 4096;
  const ring = SlotRing.create({ shards: 1, consumers: 1, shardCapacity: capacity, slotBytes, resultBytes }, 3);
  const layout = ring.layout;
  const stage = standInStage(capacity, layout.payloadArea, layout.resultArea);
  // The readback of a full batch: outcomes [attempts 1, resultLen, OK, 0], then the result areas.
  const ow = new Int32Array(stage.readback.buffer, 0, (capacity * OUTCOME_BYTES) / 4);
  for (let j = 0; j < capacity; j++) ow.set([1, resultLen, 0, 0], (j * OUTCOME_BYTES) / 4);
  const consumer = new BatchConsumer({
    ring,
    shards: [0],
    stages: [stage],
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
    consumer.publish(stage, stage.readback);
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
    batches: gatherNs.length,
    gatherNsPerMsg: g,
    publishNsPerMsg: p,
  });
  if (json) return;
  console.log(
    `${label.padEnd(34)} gather ${String(g.median).padStart(6)} ns/msg (min ${g.min})  publish ${String(p.median).padStart(6)} ns/msg (min ${p.min})`,
  );
}

measure({ label: 'checksum 256 B (result 4 B)', slotBytes: 256, resultBytes: 4, resultLen: 4 });
measure({ label: 'vector-stats 1 KB (result 16 B)', slotBytes: 1024, resultBytes: 16, resultLen: 16 });
measure({ label: 'echo 4 KB (result 4 KB)', slotBytes: 4096, resultBytes: 4096, resultLen: 4096 });
measure({ label: '64 B payloads in 4 KB slots', slotBytes: 4096, resultBytes: 16, payloadBytes: 64, resultLen: 4 });
measure({ label: '16 B results in 4 KB result areas', slotBytes: 256, resultBytes: 4096, resultLen: 16 });
if (json) console.log(JSON.stringify({ date: new Date().toISOString(), loadAverage1m: loadavg()[0], secondsPerCase: SECONDS, rows }));
