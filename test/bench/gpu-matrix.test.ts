// What `gpuqueue bench --engine cuda|webgpu` plans (bench/src/gpu-matrix.ts) and how a batch is cut among
// producer threads (bench/src/shares.ts): pure planning, checked without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaseSpec } from '../../bench/src/contender.js';
import { CUDA_FULL, CUDA_QUICK, engineNeeded, planGpuCases, producerCountsAt, WEBGPU_QUICK } from '../../bench/src/gpu-matrix.js';
import { shareBounds } from '../../bench/src/shares.js';

/** The runner's time per case (warm-up + measurement) plus a generous 2.5 s to fork, open and close. */
const estimateS = (cases: CaseSpec[]) => cases.reduce((s, c) => s + (c.warmupMs + c.durationMs) / 1000 + 2.5, 0);

test('more producer threads only where each still enqueues a real share of the batch', () => {
  assert.deepEqual(producerCountsAt(CUDA_FULL, 1), [1]);
  assert.deepEqual(producerCountsAt(CUDA_FULL, 32), [1]);
  assert.deepEqual(producerCountsAt(CUDA_FULL, 128), [1, 2, 4]);
  assert.deepEqual(producerCountsAt(CUDA_FULL, 8192), [1, 2, 4, 8]);
});

test('the cuda plan puts every contender at every point and gpuqueue cuda at 1, 2, 4 and 8 producer threads', () => {
  const cases = planGpuCases(CUDA_FULL);
  const at = (payloadBytes: number, batch: number) =>
    cases.filter((c) => c.mode === 'throughput' && c.payloadBytes === payloadBytes && c.batch === batch);
  const big = at(4096, 8192);
  assert.deepEqual(
    big.filter((c) => c.backend === 'cuda' && c.completions === undefined).map((c) => c.producers),
    [1, 2, 4, 8],
  );
  // …and with bulk completions (pollCompletionsInto) at 1 and 8 threads, from batch 256 up.
  assert.deepEqual(
    big.filter((c) => c.backend === 'cuda' && c.completions === 'bulk').map((c) => c.producers),
    [1, 8],
  );
  assert.equal(at(4096, 32).filter((c) => c.completions === 'bulk').length, 0);
  for (const name of ['cuda-launch', 'cuda-graph'] as const) assert.equal(big.filter((c) => c.contender === name).length, 1);
  assert.deepEqual(
    big.filter((c) => c.contender === 'gpuqueue' && c.backend !== 'cuda').map((c) => [c.backend, c.producers]),
    [
      ['cpu', 1],
      ['webgpu', 1],
    ],
  );
  assert.equal(at(256, 1).length, 5, 'batch 1: one producer count, five contenders');
  const trips = cases.filter((c) => c.mode === 'round-trip');
  assert.equal(trips.length, 3 * 5);
  assert.ok(trips.every((c) => c.batch === 1 && c.producers === undefined));
});

// The GPU machine runs one command for at most 10 minutes. The estimate runs high: 445 s estimated, 241 s
// measured for the 117-case plan on the H100 (2026-11-24).
test("the full cuda run fits in the GPU machine's 10-minute command (estimate under 9) and --quick in 2", () => {
  assert.ok(estimateS(planGpuCases(CUDA_FULL)) < 9 * 60, `full: ${estimateS(planGpuCases(CUDA_FULL))} s`);
  assert.ok(estimateS(planGpuCases(CUDA_QUICK)) < 2 * 60, `quick: ${estimateS(planGpuCases(CUDA_QUICK))} s`);
  assert.ok(estimateS(planGpuCases(WEBGPU_QUICK)) < 2 * 60);
});

test('the webgpu plan adds producer threads with bulk completions from batch 256 up', () => {
  const bulk = planGpuCases(WEBGPU_QUICK).filter((c) => c.backend === 'webgpu' && c.completions === 'bulk');
  assert.ok(bulk.length > 0 && bulk.every((c) => c.batch >= 256 && c.mode === 'throughput'));
  assert.deepEqual([...new Set(bulk.map((c) => c.producers))], [1, 8]);
});

test('--only keeps the named contenders', () => {
  const cases = planGpuCases(CUDA_QUICK, new Set(['cuda-graph']));
  assert.ok(cases.length > 0);
  assert.ok(cases.every((c) => c.contender === 'cuda-graph'));
});

test('each case names the GPU engine it needs', () => {
  const base = { mode: 'throughput', payloadBytes: 256, batch: 1, failRate: 0, warmupMs: 1, durationMs: 1 } as const;
  assert.equal(engineNeeded({ ...base, contender: 'cuda-launch' }), 'cuda');
  assert.equal(engineNeeded({ ...base, contender: 'gpuqueue', backend: 'webgpu' }), 'webgpu');
  assert.equal(engineNeeded({ ...base, contender: 'gpuqueue', backend: 'cpu' }), undefined);
  assert.equal(engineNeeded({ ...base, contender: 'gpuqueue' }), undefined);
});

test('a batch is cut into contiguous shares that differ by one message at most', () => {
  assert.deepEqual(shareBounds(10, 4), [0, 3, 6, 8, 10]);
  assert.deepEqual(shareBounds(8192, 8), [0, 1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192]);
  assert.deepEqual(shareBounds(1, 2), [0, 1, 1]);
  assert.throws(() => shareBounds(4, 0), /threads must be a positive integer/);
});
