// A producer thread for bench/webgpu.mjs: keeps one shard of the ring full (every free slot claimed,
// written and published at once) until the stop word turns 1, then posts how many it published. Several
// of them, one shard each, measure the engine past what one producer thread can feed it.
import { parentPort, workerData } from 'node:worker_threads';

const { sab, stop, shard, payloads, build } = workerData;
const { SlotRing } = await import(new URL('src/core/slot-ring.js', build).href);
const ring = SlotRing.attach(sab);
const halt = new Int32Array(stop);
let published = 0;
let k = 0;
parentPort.postMessage({ type: 'ready' });
while (Atomics.load(halt, 0) === 0) {
  const n = ring.freeSlots(shard);
  if (n <= 0) {
    Atomics.wait(halt, 0, 0, 0.02); // 20 µs: the harvester frees slots in bursts
    continue;
  }
  const pos = ring.claim(shard, n);
  if (pos < 0) continue;
  const id = ring.takeIds(n);
  for (let i = 0; i < n; i++, k++) ring.write(shard, (pos + i) | 0, payloads[k % payloads.length], id + i, 0, false, 0);
  ring.publish(shard, pos, n);
  published += n;
}
parentPort.postMessage({ type: 'stopped', published });
