// The launch-per-batch baselines' batch layout (bench/src/cuda-batch-layout.ts), the host half of
// bench/kernels/baseline_batch.cu: offsets, params, packing and the result check, all without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BASELINE_PARAM_BYTES,
  countChecksumMismatches,
  encodeParams,
  packBatch,
  planBatchLayout,
} from '../../bench/src/cuda-batch-layout.js';

test('the batch layout keeps every area 16-byte aligned and the output after the input', () => {
  const l = planBatchLayout(3, 250, 4);
  assert.equal(l.payloadStride, 256);
  assert.equal(l.payloadsOffset, 16, '3 lengths (12 bytes) padded to 16');
  assert.equal(l.inputBytes, 16 + 3 * 256);
  assert.equal(l.outputOffset, l.inputBytes);
  assert.equal(l.resultLensOffset, 16);
  assert.equal(l.resultsOffset, 32);
  assert.equal(l.resultStride, 16);
  assert.equal(l.outputBytes, 32 + 3 * 16);
  assert.equal(l.deviceBytes, l.outputOffset + l.outputBytes);
  for (const offset of [l.payloadsOffset, l.outputOffset, l.resultLensOffset, l.resultsOffset]) assert.equal(offset % 16, 0);
});

test('the layout rejects empty batches and sizes past the kernel’s 32-bit offsets', () => {
  assert.throws(() => planBatchLayout(0, 256, 4), /count must be a positive integer/);
  assert.throws(() => planBatchLayout(1 << 20, 8192, 4), /32-bit offsets/);
});

test('the params are the 8 u32 words of gq::BaselineParams in kernel order', () => {
  const l = planBatchLayout(5, 4096, 4);
  const bytes = encodeParams(l);
  assert.equal(bytes.byteLength, BASELINE_PARAM_BYTES);
  assert.deepEqual(
    [...new Uint32Array(bytes.buffer)],
    [5, 4096, l.payloadsOffset, l.outputOffset, l.resultLensOffset, l.resultsOffset, l.resultStride, l.resultCap],
  );
});

test('packing writes each length and payload where the kernel reads them', () => {
  const l = planBatchLayout(2, 20, 4);
  const target = new Uint8Array(l.inputBytes);
  packBatch(l, [new Uint8Array(20).fill(7), new Uint8Array(5).fill(9)], target);
  const view = new DataView(target.buffer);
  assert.equal(view.getUint32(0, true), 20);
  assert.equal(view.getUint32(4, true), 5);
  assert.deepEqual([...target.subarray(l.payloadsOffset, l.payloadsOffset + 20)], Array(20).fill(7));
  assert.deepEqual([...target.subarray(l.payloadsOffset + 32, l.payloadsOffset + 37)], Array(5).fill(9));
  assert.throws(() => packBatch(l, [new Uint8Array(1)], target), /for 2 payloads/);
  assert.throws(() => packBatch(l, [new Uint8Array(1), new Uint8Array(33)], target), /stride is 32/);
});

test('the check counts a wrong value, a failed status and a wrong length as mismatches', () => {
  const l = planBatchLayout(4, 16, 4);
  const out = new Uint8Array(l.outputBytes);
  const view = new DataView(out.buffer);
  const expected = new Uint32Array([11, 22, 33, 44]);
  for (let i = 0; i < 4; i++) {
    view.setUint32(l.resultLensOffset + 4 * i, 4, true);
    view.setUint32(l.resultsOffset + i * l.resultStride, expected[i] as number, true);
  }
  assert.equal(countChecksumMismatches(l, out, expected), 0);
  view.setUint32(l.resultsOffset, 12, true); // message 0: wrong value
  view.setUint32(4, 1, true); // message 1: FAILED
  view.setUint32(l.resultLensOffset + 8, 0, true); // message 2: no result
  assert.equal(countChecksumMismatches(l, out, expected), 3);
});
