#!/usr/bin/env node
import { parseArgs } from 'node:util';
// Protocol stress test of the cuda engine through the public API, for the GPU machine and for
// compute-sanitizer (memcheck, racecheck, synccheck): many producer threads (attachProducer) writing one
// small ring at once, so every shard wraps many times; the fault handler failing a share of first attempts
// (retries in place); pause and resume while producers run; and shutdown while producers are still
// enqueueing. Every message must be accounted for exactly once: a checked result (FNV-1a equal to JS), or
// undelivered in the shutdown report, or refused to its producer (ShutdownError); per-key completions must
// keep each producer's enqueue order.
//   node scripts/gpu-stress.mjs [--producers 8] [--messages 20000] (per producer) [--capacity 512] [--backend cuda] [--workers n]
//   (--backend cpu --workers 4 checks the script itself on a machine without a GPU; --workers is the cpu engine's)
// Prints one JSON line; exits 1 on any violation.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const payloadFor = (producer, i) => {
  const length = 1 + ((producer * 131 + i * 17) % 240);
  return Uint8Array.from({ length }, (_, j) => (producer * 31 + i * 7 + j) & 0xff);
};
const KEYS_PER_PRODUCER = 16;
const keyFor = (producer, i) => `p${producer}-k${i % KEYS_PER_PRODUCER}`;

if (!isMainThread) {
  const { attachProducer, ShutdownError } = await import('../dist/src/index.js');
  const { handle, producer, messages } = workerData;
  const p = attachProducer(handle);
  const accepted = []; // [index, id]
  let refused = 0;
  let i = 0;
  while (i < messages) {
    const n = Math.min(messages - i, 1 + ((i * 7 + producer) % 64));
    const idx = Array.from({ length: n }, (_, k) => i + k);
    try {
      // One key per batch call: a batch takes one key; the key's messages keep this order.
      const byKey = new Map();
      for (const j of idx) {
        const key = keyFor(producer, j);
        if (!byKey.has(key)) byKey.set(key, []);
        byKey.get(key).push(j);
      }
      for (const [key, js] of byKey) {
        const ids = await p.enqueueBatch(
          js.map((j) => payloadFor(producer, j)),
          { keys: js.map(() => key), timeoutMs: 60_000 },
        );
        for (const [k, j] of js.entries()) accepted.push([j, ids[k]]);
      }
    } catch (error) {
      if (!(error instanceof ShutdownError)) throw error;
      break;
    }
    i += n;
  }
  // Refused: whatever was not accepted when shutdown began (a batch call may have been part accepted).
  refused = messages - accepted.length;
  parentPort.postMessage({ producer, accepted, refused });
} else {
  const { values } = parseArgs({
    options: {
      producers: { type: 'string', default: '8' },
      messages: { type: 'string', default: '20000' },
      capacity: { type: 'string', default: '512' },
      backend: { type: 'string', default: 'cuda' },
      workers: { type: 'string', default: '1' },
    },
  });
  const producers = Number(values.producers);
  const messages = Number(values.messages);
  const { fnv1a, open, faultFails } = await import('../dist/src/index.js');
  const fault = { failRate: 0.02, failAttempts: 1, seed: 9 };
  const q = await open({
    backend: values.backend,
    ...(values.backend === 'cpu' ? { workers: Number(values.workers) } : {}),
    capacity: Number(values.capacity),
    slotBytes: 256,
    maxRetries: 2,
    watchdogMs: 600_000,
    enqueueTimeoutMs: 60_000,
    handler: { name: 'fault', inner: 'checksum', ...fault },
  });
  const started = performance.now();
  const handle = q.producerHandle();
  const workers = Array.from(
    { length: producers },
    (_, producer) => new Worker(new URL(import.meta.url), { workerData: { handle, producer, messages } }),
  );
  const reports = workers.map(
    (w) =>
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  const completions = new Map(); // id → completion
  const order = new Map(); // id → position in the completion stream (per-key FIFO check)
  const violations = [];
  let pausedOnce = false;
  let stopping = false;
  const harvest = () => {
    for (const c of q.pollCompletions(8192)) {
      order.set(c.id, order.size);
      completions.set(c.id, c);
    }
  };
  // Harvest, pause once, then shut down while producers still run (once 3/4 of the messages are in).
  const total = producers * messages;
  let report;
  while (!report) {
    harvest();
    if (!pausedOnce && completions.size > total / 4) {
      pausedOnce = true;
      q.pause();
      await new Promise((r) => setTimeout(r, 50));
      q.resume();
    }
    if (!stopping && completions.size > (total * 3) / 4) {
      stopping = true;
      report = await q.shutdown({ timeoutMs: 120_000 });
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
  harvest(); // what completed while draining
  const results = await Promise.all(reports);
  const undelivered = new Set(report.undelivered.map((u) => u.id));
  let accepted = 0;
  let refused = 0;
  let checked = 0;
  for (const { producer, accepted: acc, refused: ref } of results) {
    accepted += acc.length;
    refused += ref;
    const lastIdByKey = new Map();
    for (const [index, id] of acc) {
      const c = completions.get(id);
      if (!c) {
        if (!undelivered.has(id)) violations.push(`producer ${producer} message ${index} (id ${id}) is lost`);
        continue;
      }
      checked++;
      const payload = payloadFor(producer, index);
      if (c.status !== 'ok') violations.push(`id ${id}: ${c.status} (a retry should have succeeded)`);
      else if (Buffer.from(c.data).readUInt32LE(0) !== fnv1a(payload)) violations.push(`id ${id}: wrong checksum`);
      if (faultFails(id, 0, fault) && c.attempts !== 2)
        violations.push(`id ${id}: ${c.attempts} attempts, the fault handler fails its first`);
      const key = keyFor(producer, index);
      const at = order.get(id);
      if ((lastIdByKey.get(key) ?? -1) > at) violations.push(`key ${key}: id ${id} completed out of order`);
      lastIdByKey.set(key, at);
    }
  }
  const line = {
    producers,
    messagesPerProducer: messages,
    capacity: Number(values.capacity),
    accepted,
    refusedAtShutdown: refused,
    completedChecked: checked,
    completedInAll: completions.size,
    undelivered: undelivered.size,
    pausedOnce,
    seconds: +((performance.now() - started) / 1000).toFixed(2),
    violations: violations.length,
    firstViolations: violations.slice(0, 10),
  };
  console.log(JSON.stringify(line));
  process.exitCode = violations.length > 0 || checked === 0 ? 1 : 0;
}
