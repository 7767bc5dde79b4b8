#!/usr/bin/env node
// Where a webgpu batch round trip goes, phase by phase, at the ring (SlotRing produce + harvest, no Queue):
// `batch` 256-B checksum messages published at once, then harvested. The consumer on its worker thread is
// watched from this thread, which spins on the slots' states (READY → INFLIGHT: gathered; → DONE:
// published); on the owner thread (where spinning would starve it) BatchStage.run and
// BatchConsumer.publish are wrapped to stamp submit, outcomes back and published. Prints one JSON line per
// case: p50 / p90 of each phase in µs, from the moment the batch was published, and how many GPU batches
// one round trip took.
//   node scripts/webgpu-phases.mjs [--n 2000] [--batches 1,256] [--threads worker,owner]
//     [--uploads default,mapped,write-buffer] [--build dist]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const n = Number(arg('--n', 2000));
const batches = arg('--batches', '1,256').split(',').map(Number);
const threads = arg('--threads', 'worker,owner').split(',');
const uploads = arg('--uploads', 'default').split(',');
const build = pathToFileURL(`${resolve(arg('--build', 'dist'))}/src/`);
const load = (path) => import(new URL(path, build).href);

const { SlotRing } = await load('core/slot-ring.js');
const { SlotState } = await load('core/slot-layout.js');
const { resolveOptions } = await load('core/options.js');
const { resolveHandler } = await load('handlers/registry.js');
const { WebGpuEngine } = await load('engines/webgpu/webgpu-engine.js');
const { BatchStage } = await load('engines/webgpu/batch-stage.js');
const { BatchConsumer } = await load('engines/webgpu/batch-consumer.js');

const now = () => performance.now();
/** Owner-thread stamps: [what, ms]. */
let stamps = [];
const run = BatchStage.prototype.run;
BatchStage.prototype.run = async function (pipeline) {
  stamps.push(['submit', now()]);
  const outcomes = await run.call(this, pipeline);
  stamps.push(['back', now()]);
  return outcomes;
};
const publish = BatchConsumer.prototype.publish;
BatchConsumer.prototype.publish = function (stage, outcomes) {
  publish.call(this, stage, outcomes);
  stamps.push(['published', now()]);
};

const q = (values, p) => {
  const a = values.filter(Number.isFinite).sort((x, y) => x - y);
  return a.length ? +a[Math.min(a.length - 1, Math.floor(p * a.length))].toFixed(1) : null;
};
const turn = () => new Promise((r) => setImmediate(r));

for (const upload of uploads)
  for (const thread of threads) {
    for (const batch of batches) {
      const capacity = 4096;
      const config = resolveOptions({ capacity, slotBytes: 256, maxRetries: 3, consumerSpinUs: 200 });
      const ring = SlotRing.create({ shards: 1, consumers: 1, shardCapacity: capacity, slotBytes: 256, resultBytes: 4 }, 3);
      const faults = [];
      const engine = new WebGpuEngine(
        { ring, handler: resolveHandler('checksum'), config, onFault: (e) => faults.push(e) },
        { thread, upload: upload === 'default' ? undefined : upload },
      );
      await engine.start();
      const pool = Array.from({ length: 256 }, (_, i) => Uint8Array.from({ length: 256 }, (_, j) => (i * 31 + j) & 255));
      let id = 1;
      const phases = {};
      const add = (name, us) => {
        phases[name] ??= [];
        phases[name].push(us);
      };
      for (let k = 0; k < n + 200; k++) {
        stamps = [];
        const t0 = now();
        const pos = ring.claim(0, batch);
        for (let i = 0; i < batch; i++, id++) ring.write(0, (pos + i) | 0, pool[id % 256], id, 0, false, 0);
        ring.publish(0, pos, batch);
        const t1 = now();
        let firstTaken = Number.NaN;
        let allTaken = Number.NaN;
        let firstDone = Number.NaN;
        let done = 0;
        if (thread === 'worker') {
          // Spin: the consumer runs elsewhere.
          const last = (pos + batch - 1) | 0;
          while (Number.isNaN(allTaken)) {
            const t = now();
            if (Number.isNaN(firstTaken) && ring.stateAt(0, pos) !== SlotState.READY) firstTaken = t;
            if (ring.stateAt(0, last) !== SlotState.READY) allTaken = t;
          }
          while (!ring.doneAt(0, pos));
          firstDone = now();
          while (done < batch) done += ring.harvest(0, 1 << 20, () => {});
        } else {
          while (done < batch) {
            const got = ring.harvest(0, 1 << 20, () => {});
            if (got > 0 && Number.isNaN(firstDone)) firstDone = now();
            done += got;
            if (got === 0) await turn();
          }
        }
        const t2 = now();
        if (k < 200) continue; // warm-up: shader, JIT, stage growth
        const us = (t) => (t - t0) * 1000;
        add('publish', us(t1));
        if (thread === 'worker') {
          add('firstTaken', us(firstTaken));
          add('allTaken', us(allTaken));
        } else {
          const submits = stamps.filter(([w]) => w === 'submit');
          add('firstSubmit', us(submits[0]?.[1]));
          add('firstBack', us(stamps.find(([w]) => w === 'back')?.[1]));
          add('lastPublished', us(stamps.filter(([w]) => w === 'published').at(-1)?.[1]));
          add('gpuBatches', submits.length);
        }
        add('firstDoneSeen', us(firstDone));
        add('roundTrip', us(t2));
      }
      await engine.stop();
      const counts = engine.batchCounts(); // a worker thread reports its counts when it stops
      const out = {
        upload,
        thread,
        batch,
        n,
        batchesPerRoundTrip: +(counts.batches / (n + 200)).toFixed(2),
        faults: faults.map((f) => f.message),
      };
      for (const [name, values] of Object.entries(phases)) out[name] = { p50: q(values, 0.5), p90: q(values, 0.9) };
      console.log(JSON.stringify(out));
    }
  }
process.exit(0);
