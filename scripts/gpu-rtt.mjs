#!/usr/bin/env node
// Quick look, through the public API, at single-message round trip and batch throughput per engine
// (a probe for the GPU machine; the benchmark proper is `gpuqueue bench`). Prints one JSON line per run.
//   node scripts/gpu-rtt.mjs [cuda cpu ...]
import { open } from '../dist/src/index.js';

const engines = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['cuda', 'cpu'];
const pct = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];

async function rtt(backend, extra = {}) {
  const q = await open({ backend, handler: 'checksum', capacity: 4096, slotBytes: 256, ...extra });
  const payload = new Uint8Array(256).fill(7);
  const lat = [];
  for (let i = 0; i < 20000; i++) {
    const s = process.hrtime.bigint();
    const id = await q.enqueue(payload);
    await q.result(id);
    if (i >= 2000) lat.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  lat.sort((a, b) => a - b);
  const detail = q.stats().engineDetail;
  await q.shutdown();
  return { backend, ...extra, test: 'rtt', p50Us: pct(lat, 0.5), p99Us: pct(lat, 0.99), p999Us: pct(lat, 0.999), detail };
}

async function throughput(backend, payloadBytes, batch) {
  const q = await open({ backend, handler: 'checksum', capacity: 16384, slotBytes: payloadBytes });
  const payloads = Array.from({ length: batch }, (_, i) => new Uint8Array(payloadBytes).fill(i & 255));
  const total = Math.max(batch * 20, 400_000);
  const started = performance.now();
  let got = 0;
  let sent = 0;
  while (got < total) {
    if (sent < total) {
      await q.enqueueBatch(payloads);
      sent += batch;
    }
    got += q.pollCompletions(1 << 20).length;
    if (sent >= total) await new Promise((r) => setImmediate(r));
  }
  const s = (performance.now() - started) / 1000;
  const st = q.stats();
  await q.shutdown();
  return {
    backend,
    test: 'throughput',
    payloadBytes,
    batch,
    msgPerS: Math.round(total / s),
    gbPerS: +((total * payloadBytes) / s / 1e9).toFixed(2),
    p50Us: st.latency.p50Us,
    p99Us: st.latency.p99Us,
  };
}

for (const backend of engines) {
  try {
    console.log(JSON.stringify(await rtt(backend)));
    if (backend === 'cuda') console.log(JSON.stringify(await rtt(backend, { capacity: 64 })));
    for (const [bytes, batch] of [
      [256, 256],
      [256, 4096],
      [4096, 1024],
    ])
      console.log(JSON.stringify(await throughput(backend, bytes, batch)));
  } catch (error) {
    console.log(JSON.stringify({ backend, error: String(error?.stack ?? error) }));
  }
}
