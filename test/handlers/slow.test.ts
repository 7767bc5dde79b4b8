// slow: wraps an inner handler and spends delayUs on every message first (a busy wait, standing for compute).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { resolveHandler } from '../../src/handlers/registry.js';
import { handlerRunner } from '../support/run-handler.js';

const invalid = (message: string) => ({ name: 'InvalidArgumentError', code: 'INVALID_ARG', message });

describe('slow handler', () => {
  it('returns what the inner handler returns', () => {
    const run = handlerRunner({ name: 'slow', inner: 'echo', delayUs: 10 }, 64);
    const payload = Uint8Array.of(9, 8, 7);
    assert.deepEqual(run(payload), { status: HandlerStatus.OK, result: payload });
    assert.equal(handlerRunner({ name: 'slow', inner: 'echo', delayUs: 0 }, 2)(payload).status, HandlerStatus.RESULT_TOO_LARGE);
  });

  it('does not return before delayUs has passed (a lower bound, not a speed check)', () => {
    const run = handlerRunner({ name: 'slow', inner: 'echo', delayUs: 20_000 }, 64);
    const started = performance.now();
    run(Uint8Array.of(1));
    assert.ok(performance.now() - started >= 20, 'the busy wait lasts at least delayUs');
  });

  it('defaults delayUs to 100 and refuses a bad one', () => {
    assert.equal(resolveHandler({ name: 'slow', inner: 'echo' }).params.delayUs, 100);
    for (const [delayUs, shown] of [
      [-1, '-1'],
      [10_000_001, '10000001'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
      ['5', '"5"'],
    ] as const) {
      assert.throws(
        () => resolveHandler({ name: 'slow', inner: 'echo', delayUs }),
        invalid(`slow handler: delayUs must be a number from 0 to 10000000; got ${shown}`),
      );
    }
  });
});
