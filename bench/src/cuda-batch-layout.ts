// The byte layout of one batch for the launch-per-batch baselines, host side of
// bench/kernels/baseline_batch.cu (gq::BaselineParams): what a user packing a batch by hand would write.
// One device buffer per batch: the input (lengths, then payloads at a fixed stride), then the output
// (statuses, result lengths, results at a fixed stride). Every offset is 16-byte aligned, because the
// handlers read payloads 16 bytes at a time. Pure functions: unit-tested without a GPU.

/** Bytes of gq::BaselineParams: 8 u32 words (test/engines/cuda-kernels.test.ts checks the PTX agrees). */
export const BASELINE_PARAM_BYTES = 32;
/** Threads per block of the baseline kernel (its __launch_bounds__). */
export const BASELINE_BLOCK_THREADS = 256;

const ALIGN = 16;
const alignUp = (n: number, to = ALIGN): number => Math.ceil(n / to) * to;

export interface BatchLayout {
  count: number;
  payloadStride: number;
  /** Where payload 0 starts in the input (after the lengths). */
  payloadsOffset: number;
  /** Bytes copied host → device per batch. */
  inputBytes: number;
  /** Where the output starts in the device buffer. */
  outputOffset: number;
  /** Offsets inside the output area. */
  resultLensOffset: number;
  resultsOffset: number;
  resultStride: number;
  resultCap: number;
  /** Bytes copied device → host per batch. */
  outputBytes: number;
  /** The device buffer: input then output. */
  deviceBytes: number;
}

export function planBatchLayout(count: number, payloadBytes: number, resultCap: number): BatchLayout {
  for (const [name, v] of [
    ['count', count],
    ['payloadBytes', payloadBytes],
    ['resultCap', resultCap],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer; got ${v}`);
  }
  const payloadStride = alignUp(payloadBytes);
  const payloadsOffset = alignUp(4 * count);
  const inputBytes = payloadsOffset + count * payloadStride;
  const outputOffset = alignUp(inputBytes);
  const resultLensOffset = alignUp(4 * count);
  const resultsOffset = resultLensOffset + alignUp(4 * count);
  const resultStride = alignUp(resultCap);
  const outputBytes = resultsOffset + count * resultStride;
  const deviceBytes = outputOffset + outputBytes;
  if (deviceBytes > 0xffff_ffff)
    throw new RangeError(`a batch of ${count} × ${payloadBytes} B needs ${deviceBytes} bytes: over the kernel's 32-bit offsets`);
  return {
    count,
    payloadStride,
    payloadsOffset,
    inputBytes,
    outputOffset,
    resultLensOffset,
    resultsOffset,
    resultStride,
    resultCap,
    outputBytes,
    deviceBytes,
  };
}

/** gq::BaselineParams for a layout, little-endian, as the kernel's second (by-value) argument. */
export function encodeParams(layout: BatchLayout): Uint8Array {
  const words = new Uint32Array([
    layout.count,
    layout.payloadStride,
    layout.payloadsOffset,
    layout.outputOffset,
    layout.resultLensOffset,
    layout.resultsOffset,
    layout.resultStride,
    layout.resultCap,
  ]);
  return new Uint8Array(words.buffer);
}

/** Copies a batch into the input area (`target` holds at least layout.inputBytes). */
export function packBatch(layout: BatchLayout, payloads: readonly Uint8Array[], target: Uint8Array): void {
  if (payloads.length !== layout.count) throw new RangeError(`the layout is for ${layout.count} payloads; got ${payloads.length}`);
  const lens = new DataView(target.buffer, target.byteOffset, layout.payloadsOffset);
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i] as Uint8Array;
    if (p.byteLength > layout.payloadStride)
      throw new RangeError(`payload ${i} is ${p.byteLength} bytes; the stride is ${layout.payloadStride}`);
    lens.setUint32(4 * i, p.byteLength, true);
    target.set(p, layout.payloadsOffset + i * layout.payloadStride);
  }
}

/**
 * Checks every result of a batch's output area (`output` as copied back) against the expected 32-bit
 * checksums: status OK, 4 bytes, the right value. Returns how many are wrong.
 */
export function countChecksumMismatches(layout: BatchLayout, output: Uint8Array, expected: Uint32Array): number {
  const view = new DataView(output.buffer, output.byteOffset, layout.outputBytes);
  let bad = 0;
  for (let i = 0; i < layout.count; i++) {
    const status = view.getUint32(4 * i, true);
    const len = view.getUint32(layout.resultLensOffset + 4 * i, true);
    const sum = view.getUint32(layout.resultsOffset + i * layout.resultStride, true);
    if (status !== 0 || len !== 4 || sum !== expected[i]) bad++;
  }
  return bad;
}
