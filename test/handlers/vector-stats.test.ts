// vector-stats: [sum, sum of squares, min, max] of a float32 payload, accumulated in order with float32
// rounding after every operation; min/max by plain comparison (a NaN first poisons them, a later NaN is
// skipped). Checked against an independent reference that rounds by storing into a Float32Array.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { vectorStats } from '../../src/handlers/vector-stats/vector-stats.js';
import { randomInt, seededRandom } from '../support/contract-kit.js';
import { handlerRunner } from '../support/run-handler.js';

/** IEEE float32 arithmetic: each result is rounded by storing it into a Float32Array. */
function reference(input: number[]): number[] {
  const values = Float32Array.from(input);
  if (values.length === 0) return [0, 0, 0, 0];
  const acc = Float32Array.of(0, 0, values[0] as number, values[0] as number);
  const square = new Float32Array(1);
  for (const x of values) {
    acc[0] = (acc[0] as number) + x;
    square[0] = x * x;
    acc[1] = (acc[1] as number) + (square[0] as number);
    if (x < (acc[2] as number)) acc[2] = x;
    if (x > (acc[3] as number)) acc[3] = x;
  }
  return [...acc];
}

const bytesOf = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const floatsOf = (bytes: Uint8Array) => [...new Float32Array(bytes.slice().buffer)];

describe('vector-stats', () => {
  const run = handlerRunner('vector-stats', 16);
  /** Asserts handler, vectorStats and the reference agree (deepEqual uses Object.is: NaN = NaN, -0 ≠ 0). */
  const check = (values: number[], expected?: number[]) => {
    const want = reference(values);
    if (expected) assert.deepEqual(want, expected, `the reference itself, for ${values}`);
    assert.deepEqual(vectorStats(Float32Array.from(values)), want, `vectorStats(${values})`);
    const { status, result } = run(bytesOf(values));
    assert.equal(status, HandlerStatus.OK);
    assert.deepEqual(floatsOf(result), want, `handler on ${values}`);
  };

  it('matches float32 arithmetic on random vectors of mixed sign and magnitude', () => {
    const rand = seededRandom(13);
    for (let i = 0; i < 500; i++) {
      const n = 1 + randomInt(rand, 300);
      check(Array.from({ length: n }, () => (rand() * 2 - 1) * 10 ** (randomInt(rand, 20) - 8)));
    }
  });

  it('rounds to float32 after every addition (2²⁴ + 1 + 1 stays 2²⁴)', () => {
    check([16_777_216, 1, 1], [16_777_216, 2 ** 48, 1, 16_777_216]);
  });

  it('handles negatives: the minimum is the most negative, squares are positive', () => {
    check([-3, -1, -2], [-6, 14, -3, -1]);
  });

  it('overflows the sum of squares to Infinity as float32 does', () => {
    const big = Math.fround(1e20); // big − 1 rounds back to big; big² is past float32's largest value
    check([1e20, -1], [big, Number.POSITIVE_INFINITY, -1, big]);
  });

  it('lets a NaN poison sum and sum of squares; a later NaN is skipped by min and max', () => {
    check([1, Number.NaN, -3], [Number.NaN, Number.NaN, -3, 1]);
  });

  it('makes min and max NaN when the first value is NaN', () => {
    check([Number.NaN, 1, -3], [Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
  });

  it('handles infinities: +∞ plus −∞ is NaN, min and max are the infinities', () => {
    check(
      [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
    );
  });

  it('keeps the first of 0 and −0 for min and max, as the comparison does', () => {
    check([0, -0], [0, 0, 0, 0]);
    check([-0, 0], [0, 0, -0, -0]);
  });

  it('gives four zeros for an empty payload', () => {
    check([], [0, 0, 0, 0]);
  });

  it('returns BAD_PAYLOAD for a length that is not a multiple of 4, and RESULT_TOO_LARGE below 16 result bytes', () => {
    assert.equal(run(new Uint8Array(6)).status, HandlerStatus.BAD_PAYLOAD);
    assert.equal(handlerRunner('vector-stats', 15)(bytesOf([1])).status, HandlerStatus.RESULT_TOO_LARGE);
  });
});
