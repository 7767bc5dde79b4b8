// vector-stats (UC-2): the payload is little-endian float32 values; the result is four float32 values
// [sum, sum of squares, min, max], accumulated in order with float32 rounding after every operation.
// That fixed order and rounding (no FMA) is what lets the CUDA and WGSL twins give the same bits.
import type { HandlerDefinition } from '../handler.js';
import { HandlerStatus } from '../handler.js';

const f = Math.fround;

/** The reference: the same arithmetic every engine does. */
export function vectorStats(values: Float32Array): [number, number, number, number] {
  if (values.length === 0) return [0, 0, 0, 0];
  let sum = 0;
  let sumSquares = 0;
  let min = values[0] as number;
  let max = min;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    sum = f(sum + x);
    sumSquares = f(sumSquares + f(x * x));
    // biome-ignore lint/complexity/useMathMinMax: Math.min propagates NaN; CUDA fminf and WGSL min do not. This comparison is what all three do alike.
    min = x < min ? x : min;
    // biome-ignore lint/complexity/useMathMinMax: see min above.
    max = x > max ? x : max;
  }
  return [sum, sumSquares, min, max];
}

export const vectorStatsHandler: HandlerDefinition = {
  name: 'vector-stats',
  summary: 'float32 payload → [sum, sum of squares, min, max] as float32 (sequential, no FMA)',
  params: () => ({}),
  resultBytes: () => 16,
  js: () => (msg, out) => {
    if (msg.length % 4 !== 0) return HandlerStatus.BAD_PAYLOAD;
    if (out.capacity < 16) return HandlerStatus.RESULT_TOO_LARGE;
    const first = msg.offset / 4;
    const stats = vectorStats(msg.floats.subarray(first, first + msg.length / 4));
    out.floats.set(stats, out.offset / 4);
    out.length = 16;
    return HandlerStatus.OK;
  },
};
