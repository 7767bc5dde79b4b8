// fault: wraps an inner handler and fails the messages whose id hash is below failRate × 2³², while
// attempt < failAttempts. faultFails is the reference the contract suite counts dead letters with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { fnv1a } from '../../src/handlers/checksum/checksum.js';
import { faultFails, faultHash, faultThreshold } from '../../src/handlers/fault/fault.js';
import { resolveHandler } from '../../src/handlers/registry.js';
import { handlerRunner } from '../support/run-handler.js';

const IDS = 100_000;
const always = Number.POSITIVE_INFINITY;
const invalid = (message: string) => ({ name: 'InvalidArgumentError', code: 'INVALID_ARG', message });

function failingShare(failRate: number, seed = 0): number {
  let n = 0;
  for (let id = 1; id <= IDS; id++) if (faultFails(id, 0, { failRate, failAttempts: always, seed })) n++;
  return n / IDS;
}

describe('faultFails', () => {
  it('fails a share of 100k ids close to failRate (within 5 standard deviations)', () => {
    for (const rate of [0.001, 0.01, 0.05, 0.5]) {
      const share = failingShare(rate);
      const sd = Math.sqrt((rate * (1 - rate)) / IDS);
      assert.ok(Math.abs(share - rate) < 5 * sd, `failRate ${rate}: ${(share * 100).toFixed(3)} % failed`);
    }
  });

  it('fails none at rate 0 and all at rate 1', () => {
    assert.equal(failingShare(0), 0);
    assert.equal(failingShare(1), 1);
  });

  it('fails a chosen message only while attempt < failAttempts', () => {
    const p = { failRate: 0.2, failAttempts: 2, seed: 0 };
    const chosen = Array.from({ length: 1000 }, (_, i) => i + 1).filter((id) => faultFails(id, 0, p));
    assert.ok(chosen.length > 100);
    for (const id of chosen)
      assert.deepEqual(
        [0, 1, 2, 3].map((a) => faultFails(id, a, p)),
        [true, true, false, false],
        `id ${id}`,
      );
    for (const id of chosen) assert.equal(faultFails(id, 0, { ...p, failAttempts: 0 }), false);
  });

  it('picks ids by hash, so another seed picks another set of about the same size', () => {
    const pick = (seed: number) =>
      new Set(
        Array.from({ length: 20_000 }, (_, i) => i + 1).filter((id) => faultFails(id, 0, { failRate: 0.1, failAttempts: always, seed })),
      );
    const a = pick(0);
    const b = pick(12345);
    const both = [...a].filter((id) => b.has(id)).length;
    assert.ok(Math.abs(a.size - b.size) < 0.2 * a.size);
    assert.ok(both < 0.25 * a.size, `seeds should pick nearly independent sets (${both} of ${a.size} shared)`);
  });

  it('hashes ids above 2³² by both halves', () => {
    assert.notEqual(faultHash(2 ** 32 + 5, 0), faultHash(5, 0));
    assert.equal(faultThreshold(1), 2 ** 32);
    assert.equal(faultThreshold(0.5), 2 ** 31);
  });
});

describe('fault handler', () => {
  it('fails exactly the attempts faultFails names and otherwise returns what the inner handler returns', () => {
    const params = { failRate: 0.05, failAttempts: 2, seed: 9 };
    const run = handlerRunner({ name: 'fault', inner: 'checksum', ...params }, 4);
    const payload = Uint8Array.of(1, 2, 3);
    const h = fnv1a(payload);
    for (let id = 1; id <= 5000; id++) {
      for (const attempt of [0, 1, 2]) {
        const { status, result } = run(payload, id, attempt);
        if (faultFails(id, attempt, params)) {
          assert.equal(status, HandlerStatus.FAILED, `id ${id} attempt ${attempt}`);
        } else {
          assert.equal(status, HandlerStatus.OK, `id ${id} attempt ${attempt}`);
          assert.deepEqual([...result], [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, h >>> 24]);
        }
      }
    }
  });

  it('defaults to failRate 0.01, failing every attempt, seed 0', () => {
    assert.deepEqual(resolveHandler({ name: 'fault', inner: 'echo' }).params, {
      inner: { name: 'echo', params: {} },
      failRate: 0.01,
      failAttempts: always,
      seed: 0,
    });
  });

  it('refuses bad parameters, naming the value and what is allowed', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ failRate: 1.5 }, 'fault handler: failRate must be a number from 0 to 1; got 1.5'],
      [{ failRate: -0.1 }, 'fault handler: failRate must be a number from 0 to 1; got -0.1'],
      [{ failRate: '0.1' }, 'fault handler: failRate must be a number from 0 to 1; got "0.1"'],
      [{ failRate: Number.NaN }, 'fault handler: failRate must be a number from 0 to 1; got NaN'],
      [{ failAttempts: -1 }, 'fault handler: failAttempts must be an integer ≥ 0 or Infinity; got -1'],
      [{ failAttempts: 1.5 }, 'fault handler: failAttempts must be an integer ≥ 0 or Infinity; got 1.5'],
      [{ seed: -1 }, 'fault handler: seed must be an integer from 0 to 2^32 - 1; got -1'],
      [{ seed: 2 ** 32 }, `fault handler: seed must be an integer from 0 to 2^32 - 1; got ${2 ** 32}`],
    ];
    for (const [params, message] of cases) {
      assert.throws(() => resolveHandler({ name: 'fault', inner: 'echo', ...params }), invalid(message));
    }
  });
});
