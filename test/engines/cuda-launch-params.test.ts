// The launch parameters of the persistent kernel, word by word as gq::ConsumerParams declares them
// (kernels/persistent_consumer.cu): geometry, the consumer count, device scratch, wake mode, publish
// counter, then the wrapper stages. No GPU needed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { computeLayout } from '../../src/core/slot-layout.js';
import {
  handlerLeaf,
  LAUNCH_PARAM_BYTES,
  planKernel,
  SCRATCH_STAGING_OFFSET,
  scratchBytes,
  WakeMode,
} from '../../src/engines/cuda/launch-params.js';
import { resolveHandler } from '../../src/handlers/registry.js';

const layout = computeLayout({ shards: 8, consumers: 8, shardCapacity: 64, slotBytes: 250, resultBytes: 4 });

test('planKernel encodes every field of gq::ConsumerParams in order', () => {
  const spec = resolveHandler({ name: 'fault', inner: 'checksum', failRate: 0.5, seed: 3 });
  const scratch = 0x7f12_3456_7800n;
  const plan = planKernel(layout, spec, 3, 5000, {
    consumers: 8,
    blockThreads: 64,
    scratch,
    wakeMode: WakeMode.WATCH,
    publishWord: 17,
    stagingShared: true,
  });
  assert.equal(plan.leaf, 'checksum');
  assert.equal(plan.params.byteLength, LAUNCH_PARAM_BYTES);
  const w = new Uint32Array(plan.params.buffer, plan.params.byteOffset, LAUNCH_PARAM_BYTES / 4);
  const { statesOffset, headersOffset, outcomesOffset, payloadsOffset, resultsOffset } = layout;
  assert.deepEqual(
    [...w.slice(0, 19)],
    [
      8,
      64,
      statesOffset,
      headersOffset,
      outcomesOffset,
      payloadsOffset,
      resultsOffset,
      16,
      4,
      3,
      5000,
      8,
      256,
      0x3456_7800,
      0x7f12,
      WakeMode.WATCH,
      17,
      1,
      1,
    ],
  );
  assert.equal(w[19], 1, 'the one wrapper stage is a FAULT stage');
  assert.equal(w[20], 3, 'with its seed');
  assert.equal(LAUNCH_PARAM_BYTES, 4 * (19 + 4 * 5), '19 words, then 4 wrapper stages of 5');
});

test('gq::ConsumerParams declares the fields planKernel encodes, in that order', () => {
  const source = readFileSync(new URL('../../../src/engines/cuda/kernels/persistent_consumer.cu', import.meta.url), 'utf8');
  const body = /struct ConsumerParams \{([^}]*)\}/.exec(source)?.[1] ?? '';
  const fields = [...body.matchAll(/^\s*uint32_t\s+(\w+);/gm)].map((m) => m[1]);
  assert.deepEqual(fields, [
    'shards',
    'shard_capacity',
    'states_offset',
    'headers_offset',
    'outcomes_offset',
    'payloads_offset',
    'results_offset',
    'result_area',
    'result_capacity',
    'max_retries',
    'idle_sleep_max_ns',
    'consumers',
    'payload_area',
    'scratch_lo',
    'scratch_hi',
    'wake_mode',
    'publish_word',
    'staging_shared',
    'wrapper_count',
  ]);
  assert.match(body, /WrapperStage wrappers\[MAX_WRAPPERS\];\s*$/, 'then the wrapper stages');
});

test('the scratch holds a 4 KiB head and one staged payload area per consumer thread', () => {
  assert.equal(scratchBytes(layout, 8, 64), SCRATCH_STAGING_OFFSET + 8 * 64 * 256);
});

test('handlerLeaf finds the leaf under any wrappers', () => {
  assert.equal(handlerLeaf(resolveHandler({ name: 'slow', delayUs: 1, inner: { name: 'crash', inner: 'echo', crashRate: 0 } })), 'echo');
  assert.equal(handlerLeaf(resolveHandler('vector-stats')), 'vector-stats');
});
