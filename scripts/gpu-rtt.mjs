#!/usr/bin/env node
// Quick look, through the public API, at single-message round trip and batch throughput per engine
// (a probe for the GPU machine; the benchmark proper is `gpuqueue bench`). Prints one JSON line per run.
//   node scripts/gpu-rtt.mjs [cuda cpu ...] [--rtt-only] [--n 20000] [--capacities 4096,64] [--label text]
// Environment: GPUQUEUE_DIST=<folder> runs another build (e.g. the previous commit's dist) through the
// same script; GPUQUEUE_CUDA_WAKE=watch|poll|legacy and GPUQUEUE_CUDA_IDLE_NS pick the kernel's wake mode
// and idle nap cap.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const value = argv[i + 1];
  argv.splice(i, 2);
  return value;
};
const rttOnly = argv.includes('--rtt-only');
const n = Number(flag('--n') ?? 20000);
const capacities = (flag('--capacities') ?? '4096,64').split(',').map(Number);
const label = flag('--label');
const engines = argv.filter((a) => !a.startsWith('--'));
if (engines.length === 0) engines.push('cuda', 'cpu');

const dist = pathToFileURL(`${resolve(process.env.GPUQUEUE_DIST ?? new URL('../dist', import.meta.url).pathname)}/`);
const { open } = await import(new URL('src/index.js', dist).href);
const pct = (a, q) => +a[Math.min(a.length - 1, Math.floor(q * a.length))].toFixed(2);
const tag = { ...(label ? { label } : {}), wake: process.env.GPUQUEUE_CUDA_WAKE ?? 'default' };

async function rtt(backend, capacity) {
  const q = await open({ backend, handler: 'checksum', capacity, slotBytes: 256 });
  const payload = new Uint8Array(256).fill(7);
  const lat = [];
  const warm = Math.min(2000, n / 10);
  for (let i = 0; i < n + warm; i++) {
    const s = process.hrtime.bigint();
    const id = await q.enqueue(payload);
    await q.result(id);
    if (i >= warm) lat.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  lat.sort((a, b) => a - b);
  const detail = q.stats().engineDetail;
  await q.shutdown();
  return {
    backend,
    ...tag,
    test: 'rtt',
    capacity,
    p50Us: pct(lat, 0.5),
    p90Us: pct(lat, 0.9),
    p99Us: pct(lat, 0.99),
    p999Us: pct(lat, 0.999),
    detail,
  };
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
    ...tag,
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
    for (const capacity of backend === 'cuda' ? capacities : capacities.slice(0, 1))
      console.log(JSON.stringify(await rtt(backend, capacity)));
    if (rttOnly) continue;
    for (const [bytes, batch] of [
      [256, 256],
      [256, 4096],
      [4096, 1024],
    ])
      console.log(JSON.stringify(await throughput(backend, bytes, batch)));
  } catch (error) {
    console.log(JSON.stringify({ backend, ...tag, error: String(error?.stack ?? error) }));
  }
}
process.exit(0);
