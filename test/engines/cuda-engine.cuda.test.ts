// The cuda engine against the JS reference on a real GPU: checksum results and the fault handler's dead
// letters. Skipped, with the reason, where no usable GPU or no built kernel is here.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { QueueConfig } from '../../src/core/options.js';
import { Producer } from '../../src/core/producer.js';
import { SlotOutcome } from '../../src/core/slot-layout.js';
import { SlotRing } from '../../src/core/slot-ring.js';
import { CudaEngine } from '../../src/engines/cuda/cuda-engine.js';
import { probeCuda } from '../../src/engines/cuda/driver/probe.js';
import { planCudaRing } from '../../src/engines/cuda/plan.js';
import { fnv1a } from '../../src/handlers/checksum/checksum.js';
import { type FaultParams, faultFails } from '../../src/handlers/fault/fault.js';
import { resolveHandler } from '../../src/handlers/registry.js';

const ptx = new URL('../../kernels/checksum.ptx', import.meta.url);

function unavailable(): string | false {
  const probe = probeCuda();
  if (!probe.usable) return probe.reason;
  if (!existsSync(ptx)) return `no built kernel at ${ptx.pathname}: run npm run build:kernels`;
  return false;
}

test('the persistent kernel computes checksums equal to JS and dead-letters exactly the faulted ids', { skip: unavailable() }, async () => {
  const spec = resolveHandler({ name: 'fault', inner: 'checksum', failRate: 0.05 });
  const maxRetries = 2;
  const plan = planCudaRing(1024);
  const ring = SlotRing.create({ ...plan, shardCapacity: 1024 / plan.shards, slotBytes: 300, resultBytes: 4 }, maxRetries);
  let fault: Error | undefined;
  const engine = new CudaEngine({ ring, handler: spec, config: {} as QueueConfig, onFault: (e) => (fault = e) });
  await engine.start();
  const producer = new Producer(ring, { kind: 'hash' }, () => new Promise(setImmediate));
  const payloads = new Map<number, Uint8Array>();
  const total = 20_000;
  let sent = 0;
  let seen = 0;
  try {
    while (seen < total && !fault) {
      while (sent < total) {
        const payload = Uint8Array.from({ length: sent % 301 }, (_, i) => (i * 31 + sent) & 0xff);
        if (ring.freeSlots(0) === 0 && ring.totalDepth() >= 1024 - plan.shards) break;
        try {
          payloads.set(producer.tryEnqueue(payload), payload);
          sent++;
        } catch {
          break;
        }
      }
      let n = 0;
      for (let s = 0; s < ring.layout.shards; s++) {
        n += ring.harvest(s, 1 << 30, (slot) => {
          const id = ring.idAt(slot);
          const payload = payloads.get(id) as Uint8Array;
          payloads.delete(id);
          const dead = faultFails(id, maxRetries, spec.params as FaultParams);
          assert.equal(ring.outcome(slot, SlotOutcome.HANDLER_STATUS) !== 0, dead, `message ${id} dead-lettered iff faultFails`);
          assert.equal(ring.outcome(slot, SlotOutcome.ATTEMPTS), dead ? 1 + maxRetries : 1);
          if (!dead) assert.equal(Buffer.from(ring.resultAt(slot)).readUInt32LE(0), fnv1a(payload), `checksum of message ${id}`);
          seen++;
        });
      }
      if (n === 0) await new Promise(setImmediate);
    }
  } finally {
    await engine.stop();
  }
  assert.equal(fault, undefined);
  assert.equal(seen, total);
});
