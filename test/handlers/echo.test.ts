// echo: the result is the payload, byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { randomBytes, randomInt, seededRandom } from '../support/contract-kit.js';
import { handlerRunner } from '../support/run-handler.js';

describe('echo handler', () => {
  it('returns every payload unchanged, from empty to the result capacity', () => {
    const run = handlerRunner('echo', 1024);
    const rand = seededRandom(12);
    for (let i = 0; i < 200; i++) {
      const payload = randomBytes(rand, i === 0 ? 0 : i === 1 ? 1024 : randomInt(rand, 1025));
      const { status, result } = run(payload);
      assert.equal(status, HandlerStatus.OK);
      assert.deepEqual(result, payload);
    }
  });

  it('returns RESULT_TOO_LARGE for a payload longer than the result capacity', () => {
    assert.equal(handlerRunner('echo', 8)(new Uint8Array(9)).status, HandlerStatus.RESULT_TOO_LARGE);
    assert.equal(handlerRunner('echo', 8)(new Uint8Array(8)).status, HandlerStatus.OK);
  });
});
