#!/usr/bin/env node
import { parseArgs } from 'node:util';
// Throughput through the public API when producer threads stream: P worker threads (attachProducer) each
// enqueue batches of `share` back to back, held back only by the ring's capacity; the owner thread does
// nothing but harvest (pollCompletionsInto) and checks every result against FNV-1a. Prints one JSON line:
// total msg/s and the owner's busy ns per message, which is what bounds this setup. (`gpuqueue bench`
// hands each batch to the producers and waits for it: a different, latency-bound shape.)
//   node scripts/gpu-streaming.mjs [--backend cuda] [--producers 8] [--share 1024] [--payload 256] [--seconds 3]
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { attachProducer, createCompletionBatch, fnv1a, open, TimeoutError } from '../dist/src/index.js';

/** Payload j of every share: its bytes depend on j only, so the owner knows each result from the id's offset. */
const payloadOf = (j, bytes) => Uint8Array.from({ length: bytes }, (_, b) => (j * 31 + b) & 0xff);

if (isMainThread) {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'cuda' },
      producers: { type: 'string', default: '8' },
      share: { type: 'string', default: '1024' },
      payload: { type: 'string', default: '256' },
      seconds: { type: 'string', default: '3' },
      capacity: { type: 'string', default: '65536' },
    },
  });
  const [producers, share, payload, seconds, capacity] = ['producers', 'share', 'payload', 'seconds', 'capacity'].map((k) =>
    Number(values[k]),
  );
  const q = await open({ backend: values.backend, capacity, slotBytes: payload, handler: 'checksum', harvest: 'on-poll' });
  const expected = Array.from({ length: share }, (_, j) => fnv1a(payloadOf(j, payload)));
  // Each enqueueBatch takes `share` consecutive ids, so a message's payload is its id's offset from its
  // batch's first id, which the worker posts from onIds.
  const into = createCompletionBatch(8192, 4);
  const firstIds = new Map();
  const workers = Array.from(
    { length: producers },
    () => new Worker(new URL(import.meta.url), { workerData: { handle: q.producerHandle(), share, payload } }),
  );
  for (const w of workers) w.on('message', (first) => typeof first === 'number' && firstIds.set(first, true));
  await Promise.all(workers.map((w) => new Promise((ready) => w.once('message', ready))));
  let done = 0;
  let busyMs = 0;
  let mismatches = 0;
  const pending = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const a = performance.now();
    const n = q.pollCompletionsInto(into);
    if (n > 0) {
      busyMs += performance.now() - a;
      done += n;
      // Checked after the clock: a sample of every poll (its first and last), so the check costs little.
      pending.push([into.ids[0], readU32(into, 0), into.ids[n - 1], readU32(into, n - 1)]);
    } else await new Promise((r) => setImmediate(r));
  }
  const s = (performance.now() - t0) / 1000;
  for (const w of workers) w.postMessage('stop');
  await Promise.all(workers.map((w) => new Promise((exit) => w.once('exit', exit))));
  const firsts = [...firstIds.keys()].sort((x, y) => x - y);
  const check = (id, value) => {
    let lo = 0;
    let hi = firsts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (firsts[mid] <= id) lo = mid;
      else hi = mid - 1;
    }
    if (value !== expected[id - firsts[lo]]) mismatches++;
  };
  for (const [id0, v0, id1, v1] of pending) {
    check(id0, v0);
    check(id1, v1);
  }
  console.log(
    JSON.stringify({
      backend: values.backend,
      producers,
      share,
      payloadBytes: payload,
      msgPerS: Math.round(done / s),
      gbPerS: +((done * payload) / s / 1e9).toFixed(2),
      ownerBusyNsPerMsg: +((busyMs * 1e6) / done).toFixed(1),
      checked: pending.length * 2,
      mismatches,
      detail: q.stats().engineDetail,
    }),
  );
  await q.shutdown();
  process.exit(mismatches > 0 ? 1 : 0);
} else {
  const { handle, share, payload } = workerData;
  const p = attachProducer(handle);
  const batch = Array.from({ length: share }, (_, j) => payloadOf(j, payload));
  let stop = false;
  parentPort.on('message', () => {
    stop = true;
  });
  parentPort.postMessage('ready');
  // A short wait for space: once the owner stops polling nothing frees any, and the default (5 s) would
  // hold every run that long after "stop". A timeout while running just tries again.
  while (!stop) {
    try {
      await p.enqueueBatch(batch, { timeoutMs: 200, onIds: (first) => parentPort.postMessage(first) });
    } catch (error) {
      if (!(error instanceof TimeoutError)) break;
    }
  }
  process.exit(0);
}

function readU32(into, i) {
  const at = into.resultOffsets[i];
  const r = into.results;
  return (r[at] | (r[at + 1] << 8) | (r[at + 2] << 16) | (r[at + 3] << 24)) >>> 0;
}
