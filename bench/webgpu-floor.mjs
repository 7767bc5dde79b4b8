#!/usr/bin/env node
// The floor under a webgpu batch round trip: what Dawn alone takes from submit to "done" for a few ways of
// asking, with no ring and no gpuqueue code in between (one tiny batch at a time, µs, p50 / p90 over
// `--n` after 200 warm-up). Tells how much of the engine's round trip is Dawn and the driver, and which
// way of waiting costs least.
//   node bench/webgpu-floor.mjs [--n 2000] [--bytes 65536 (records uploaded per batch in the staged cases)]
import { create } from 'webgpu';

const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const n = Number(arg('--n', 2000));
const bytes = Number(arg('--bytes', 65536));

const B = { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 0x40, STORAGE: 0x80 };
// Held to the end (see the last line): dawn.node frees the instance when it is garbage-collected, even
// while its device is in use, and the process then dies in a futex or mutex assertion, or hangs (seen on
// the H100 and on lavapipe, 2026-11-24). src/engines/webgpu/dawn.ts holds its instance for the process.
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
const device = await adapter.requestDevice();
const info = adapter.info ?? {};
const module = device.createShaderModule({
  code: `
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&output)) { output[id.x] = input[id.x * 16u] ^ 0x9e3779b9u; }
}`,
});
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const input = device.createBuffer({ size: bytes, usage: B.STORAGE | B.COPY_DST });
const output = device.createBuffer({ size: 1024, usage: B.STORAGE | B.COPY_SRC });
const readback = device.createBuffer({ size: 1024, usage: B.MAP_READ | B.COPY_DST });
const staging = device.createBuffer({ size: bytes, usage: B.MAP_WRITE | B.COPY_SRC, mappedAtCreation: true });
const bind = device.createBindGroup({
  layout: pipeline.getBindGroupLayout(0),
  entries: [
    { binding: 0, resource: { buffer: input } },
    { binding: 1, resource: { buffer: output } },
  ],
});
const host = new Uint8Array(bytes);

/** Records the compute pass (4 workgroups). */
function computePass(encoder) {
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(4);
  pass.end();
}
/** Records the copy of the outputs into the readback buffer. */
const copyOut = (encoder) => encoder.copyBufferToBuffer(output, 0, readback, 0, 1024);
/** A fresh encoder, filled by `record`, submitted. */
function submit(...record) {
  const encoder = device.createCommandEncoder();
  for (const r of record) r(encoder);
  device.queue.submit([encoder.finish()]);
}
async function mapReadback() {
  await readback.mapAsync(1);
  readback.unmap();
}

const ways = {
  /** An empty submit, then onSubmittedWorkDone: Dawn's and the driver's least. */
  'empty submit + onSubmittedWorkDone': async () => {
    submit();
    await device.queue.onSubmittedWorkDone();
  },
  /** A dispatch alone, waited with onSubmittedWorkDone: what the compute pass adds to an empty submit. */
  'dispatch + onSubmittedWorkDone': async () => {
    submit(computePass);
    await device.queue.onSubmittedWorkDone();
  },
  /** A copy into the readback buffer and its map, no dispatch: what mapping adds. */
  'copy + readback map': async () => {
    submit(copyOut);
    await mapReadback();
  },
  /** Dispatch + copy, waited with onSubmittedWorkDone and then mapped (the map should find the work done). */
  'dispatch + copy + onSubmittedWorkDone + map': async () => {
    submit(computePass, copyOut);
    await device.queue.onSubmittedWorkDone();
    await mapReadback();
  },
  /** Dispatch + copy to a readback buffer, then map it (the engine's wait, no upload). */
  'dispatch + readback map': async () => {
    submit(computePass, copyOut);
    await mapReadback();
  },
  /** writeBuffer of the records (Dawn's own staging), dispatch, readback map. */
  'writeBuffer + dispatch + readback map': async () => {
    device.queue.writeBuffer(input, 0, host);
    submit(computePass, copyOut);
    await mapReadback();
  },
  /** The engine's `mapped` path: fill the mapped staging, copy, dispatch, readback map and staging remap. */
  'mapped staging + dispatch + readback map + remap': async () => {
    new Uint8Array(staging.getMappedRange()).set(host);
    staging.unmap();
    submit((encoder) => encoder.copyBufferToBuffer(staging, 0, input, 0, bytes), computePass, copyOut);
    const remap = staging.mapAsync(2);
    await mapReadback();
    await remap;
  },
};

/** Keeps the event loop turning (setImmediate) while `promise` is pending: how the engine's loops wait. */
async function spinning(promise) {
  let pending = true;
  promise.finally(() => {
    pending = false;
  });
  while (pending) await new Promise((r) => setImmediate(r));
  return promise;
}
for (const [name, once] of Object.entries({ ...ways })) ways[`${name}, event loop spinning`] = () => spinning(once());

const q = (a, p) => +a[Math.min(a.length - 1, Math.floor(p * a.length))].toFixed(1);
const rows = [];
for (const [name, once] of Object.entries(ways)) {
  const times = [];
  for (let i = 0; i < n + 200; i++) {
    const t = performance.now();
    await once();
    if (i >= 200) times.push((performance.now() - t) * 1000);
  }
  times.sort((a, b) => a - b);
  rows.push({ way: name, p50Us: q(times, 0.5), p90Us: q(times, 0.9) });
  console.log(`${name.padEnd(50)} p50 ${String(q(times, 0.5)).padStart(7)} µs  p90 ${String(q(times, 0.9)).padStart(7)} µs`);
}
console.log(JSON.stringify({ adapter: `${info.vendor ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.trim(), bytes, n, rows }));
if (gpu === undefined) throw new Error('unreachable: keeps the Dawn instance alive until here');
process.exit(0);
