// How the webgpu engine cuts the ring: consumers by adapter kind, cores, capacity and `workers`, and
// shards that split evenly among them. No adapter needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineUnavailableError } from '../../src/core/errors.js';
import { type QueueOptions, resolveOptions } from '../../src/core/options.js';
import { CONSUMERS_ENV, planWebGpuRing } from '../../src/engines/webgpu/plan.js';

const config = (o: QueueOptions = {}) => resolveOptions({ workers: 15, capacity: 65536, ...o });

test('a software adapter gets one consumer, whatever the cores', () => {
  assert.equal(planWebGpuRing(config(), true, 64).consumers, 1);
});

test('a GPU gets a consumer per 4 cores, at most 8, each with 4096 slots of the ring at least, and no more than workers', () => {
  assert.equal(planWebGpuRing(config(), false, 2).consumers, 1);
  assert.equal(planWebGpuRing(config(), false, 8).consumers, 2);
  assert.equal(planWebGpuRing(config(), false, 16).consumers, 4);
  assert.equal(planWebGpuRing(config(), false, 32).consumers, 8);
  assert.equal(planWebGpuRing(config(), false, 128).consumers, 8);
  assert.equal(planWebGpuRing(config({ capacity: 16384 }), false, 16).consumers, 4);
  assert.equal(planWebGpuRing(config({ capacity: 8192 }), false, 16).consumers, 2);
  assert.equal(planWebGpuRing(config({ capacity: 4096 }), false, 16).consumers, 1);
  assert.equal(planWebGpuRing(config({ workers: 2 }), false, 16).consumers, 2);
  // 24 cores → 6 consumers by cores, rounded down to a power of two so shards split evenly.
  assert.equal(planWebGpuRing(config(), false, 24).consumers, 4);
});

test('every consumer owns at least one shard, and shards stay at least 64 slots deep', () => {
  for (const capacity of [64, 128, 4096, 65536]) {
    for (const workers of [1, 2, 3, 15]) {
      const { shards, consumers } = planWebGpuRing(config({ capacity, workers }), false, 16);
      assert.ok(
        shards >= consumers && shards % consumers === 0,
        `capacity ${capacity}, workers ${workers}: ${shards} shards, ${consumers} consumers`,
      );
      assert.ok(capacity / shards >= 64, `capacity ${capacity}: ${shards} shards`);
    }
  }
});

test(`${CONSUMERS_ENV} overrides the count, and a bad value is refused with the value named`, () => {
  const before = process.env[CONSUMERS_ENV];
  try {
    process.env[CONSUMERS_ENV] = '2';
    assert.equal(planWebGpuRing(config(), true, 2).consumers, 2);
    process.env[CONSUMERS_ENV] = '3';
    assert.throws(
      () => planWebGpuRing(config(), false, 16),
      (e: Error) => e instanceof EngineUnavailableError && /got 3/.test(e.message),
    );
  } finally {
    if (before === undefined) delete process.env[CONSUMERS_ENV];
    else process.env[CONSUMERS_ENV] = before;
  }
});
