#!/usr/bin/env node
// Where the cuda engine's batch throughput goes, one stage at a time (no overlap): the owner thread
// enqueues a batch (enqueueBatch), the kernel runs it (time until every slot is DONE, watched without
// harvesting), then the owner harvests it (pollCompletionsInto). Per message, p50 over the rounds.
// Reads the queue's ring (a private field) to see DONE without harvesting: a diagnostic, not an API.
//   node scripts/gpu-throughput-probe.mjs [--backend cuda] [--batch 8192] [--payload 256] [--rounds N] [--pause] [--touch]
// Rounds default to enough for 2 M messages (at least 40): fewer leave small batches timed before the JIT
// has optimised the loops (measured: 1.1 µs per message to harvest 256 after 40 rounds).
import { parseArgs } from 'node:util';
import { resultByte, SlotOutcome } from '../dist/src/core/slot-layout.js';
import { createCompletionBatch, fnv1a, open } from '../dist/src/index.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'cuda' },
    batch: { type: 'string', default: '8192' },
    payload: { type: 'string', default: '256' },
    rounds: { type: 'string' },
    capacity: { type: 'string' },
    // Pause the queue while the host enqueues and harvests: the kernel then polls no slot over PCIe, which
    // shows what its polling costs the host's own memory traffic.
    pause: { type: 'boolean', default: false },
    // Before harvesting, read the finished slots' states, outcomes and results once (timed as `touch`):
    // separates the cost of fetching the lines the GPU wrote from the harvest's own work.
    touch: { type: 'boolean', default: false },
  },
});
const batch = Number(values.batch);
const payloadBytes = Number(values.payload);
const capacity = Number(values.capacity ?? 2 ** Math.ceil(Math.log2(2 * batch)));
const q = await open({ backend: values.backend, capacity, slotBytes: payloadBytes, handler: 'checksum', harvest: 'on-poll' });
const ring = q.ring;
const payloads = Array.from({ length: batch }, (_, i) => Uint8Array.from({ length: payloadBytes }, (_, j) => (i * 7 + j) & 0xff));
const expected = payloads.map((p) => fnv1a(p));
const into = createCompletionBatch(batch, 4);
// DONE runs at each shard's tail: cheap enough not to hide the kernel's time (a walk over every slot was not).
const doneCount = () => {
  let n = 0;
  for (let s = 0; s < ring.layout.shards; s++) n += ring.doneRun(s, Number.POSITIVE_INFINITY);
  return n;
};
const stages = { enqueue: [], gpu: [], touch: [], harvest: [] };
// The GPU wrote each finished slot's state, outcome and result area: one word per 16 B of each.
const touchSlots = () => {
  let x = 0;
  const { i32, layout } = ring;
  const resultWords = layout.resultArea >> 2;
  for (const slot of ring.unharvestedSlots()) {
    x ^= ring.stateOf(slot) ^ ring.outcome(slot, SlotOutcome.ATTEMPTS);
    for (let w = resultByte(layout, slot) >> 2, end = w + resultWords; w < end; w += 4) x ^= i32[w];
  }
  return x;
};
let bad = 0;
const rounds = Number(values.rounds ?? Math.max(40, Math.ceil(2e6 / batch)));
const warmup = Math.max(5, Math.floor(rounds / 4));
for (let r = 0; r < rounds; r++) {
  if (values.pause) q.pause();
  const t0 = performance.now();
  const ids = await q.enqueueBatch(payloads);
  const t1 = performance.now();
  if (values.pause) q.resume();
  while (doneCount() < batch) {}
  const t2 = performance.now();
  if (values.pause) q.pause();
  if (values.touch) touchSlots();
  const tTouched = performance.now();
  let got = 0;
  while (got < batch) {
    const n = q.pollCompletionsInto(into);
    for (let i = 0; i < n; i++) {
      const at = into.resultOffsets[i];
      const v = (into.results[at] | (into.results[at + 1] << 8) | (into.results[at + 2] << 16) | (into.results[at + 3] << 24)) >>> 0;
      if (v !== expected[into.ids[i] - ids[0]]) bad++;
    }
    got += n;
  }
  const t3 = performance.now();
  if (values.pause) q.resume();
  if (r >= warmup) {
    stages.enqueue.push(((t1 - t0) * 1e6) / batch);
    stages.gpu.push(((t2 - t1) * 1e6) / batch);
    stages.touch.push(((tTouched - t2) * 1e6) / batch);
    stages.harvest.push(((t3 - tTouched) * 1e6) / batch);
  }
}
const p50 = (a) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(1);
const line = {
  backend: values.backend,
  engineDetail: q.stats().engineDetail,
  batch,
  payloadBytes,
  capacity,
  pausedDuringHostPhases: values.pause,
  wake: process.env.GPUQUEUE_CUDA_WAKE ?? 'default',
  nsPerMessage: { enqueue: +p50(stages.enqueue), kernel: +p50(stages.gpu), touch: +p50(stages.touch), harvest: +p50(stages.harvest) },
  mismatches: bad,
};
console.log(JSON.stringify(line));
await q.shutdown();
process.exitCode = bad > 0 ? 1 : 0;
