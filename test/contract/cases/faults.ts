// Retries and dead letters (UC-5): with the fault handler failing a known set of ids, the dead letters, the
// retry count and each message's attempts are exactly what faultFails says, and nothing is lost.
import assert from 'node:assert/strict';
import { fnv1a, HandlerStatus } from '../../../src/index.js';
import {
  assertEachIdOnce,
  type CaseRegistrar,
  type ContractEngine,
  checksumBytes,
  collectByPolling,
  expectedAttempts,
  type FaultSpec,
  randomBytes,
  randomInt,
  seededRandom,
  withQueue,
} from '../../support/contract-kit.js';

const MESSAGES = 4000;

interface Scenario {
  title: string;
  fault: FaultSpec;
  maxRetries: number;
}

const scenarios: Scenario[] = [
  {
    title: '1 % of messages always failing are dead-lettered after 1 + maxRetries runs, exactly those faultFails picks',
    fault: { failRate: 0.01, failAttempts: Number.POSITIVE_INFINITY },
    maxRetries: 3,
  },
  {
    title: '5 % of messages always failing are dead-lettered after 1 + maxRetries runs, exactly those faultFails picks',
    fault: { failRate: 0.05, failAttempts: Number.POSITIVE_INFINITY },
    maxRetries: 3,
  },
  {
    title: 'transient failures (2 failed attempts, maxRetries 3) are retried to success: no dead letters, retries counted exactly',
    fault: { failRate: 0.05, failAttempts: 2 },
    maxRetries: 3,
  },
  {
    title: 'failures that outlast maxRetries (2 failed attempts, maxRetries 1) are dead-lettered',
    fault: { failRate: 0.05, failAttempts: 2 },
    maxRetries: 1,
  },
  {
    title: 'with maxRetries 0 a failed message is dead-lettered after its one run',
    fault: { failRate: 0.05, failAttempts: 1, seed: 7 },
    maxRetries: 0,
  },
];

export function faultCases(engine: ContractEngine, test: CaseRegistrar): void {
  for (const { title, fault, maxRetries } of scenarios) {
    test(title, async () => {
      const rand = seededRandom(Math.round(fault.failRate * 1000) + maxRetries);
      const payloads = Array.from({ length: MESSAGES }, () => randomBytes(rand, 1 + randomInt(rand, 64)));
      const handler = { name: 'fault', inner: 'checksum', ...fault };
      await withQueue(engine, { capacity: 256, slotBytes: 64, handler, maxRetries }, async (q) => {
        const collected = collectByPolling(q, MESSAGES);
        const ids: number[] = [];
        for (let i = 0; i < MESSAGES; i += 500) ids.push(...(await q.enqueueBatch(payloads.slice(i, i + 500))));
        const completions = await collected;
        assertEachIdOnce(completions, ids);

        const payloadOf = new Map(ids.map((id, i) => [id, payloads[i] as Uint8Array]));
        const expected = new Map(ids.map((id) => [id, expectedAttempts(id, fault, maxRetries)]));
        const expectedDead = ids.filter((id) => expected.get(id)?.dead);
        const expectedRetries = ids.reduce((sum, id) => sum + (expected.get(id)?.attempts ?? 1) - 1, 0);
        if (fault.failAttempts > maxRetries) assert.ok(expectedDead.length > 0, 'the scenario must pick some messages to fail');
        else assert.equal(expectedDead.length, 0);
        if (maxRetries > 0) assert.ok(expectedRetries > 0, 'the scenario must retry some messages');

        for (const c of completions) {
          const want = expected.get(c.id);
          assert.equal(c.attempts, want?.attempts, `attempts of message ${c.id}`);
          if (want?.dead) {
            assert.equal(c.status, 'dead-letter', `message ${c.id} should be a dead letter`);
            assert.equal(c.handlerStatus, HandlerStatus.FAILED);
            assert.match(c.reason ?? '', /FAILED/, `the completion of dead letter ${c.id} says why`);
          } else {
            assert.equal(c.status, 'ok', `message ${c.id} should succeed`);
            assert.deepEqual(c.data, checksumBytes(fnv1a(payloadOf.get(c.id) as Uint8Array)), `checksum of ${c.id}`);
          }
        }

        const deadLetters = q.deadLetters();
        assert.deepEqual(
          deadLetters.map((d) => d.id).sort((a, b) => a - b),
          expectedDead,
          'deadLetters() ids',
        );
        for (const d of deadLetters) {
          assert.deepEqual(d.payload, payloadOf.get(d.id), `dead letter ${d.id} carries its payload`);
          assert.equal(d.attempts, maxRetries + 1, `dead letter ${d.id} ran 1 + maxRetries times`);
          assert.equal(d.handlerStatus, HandlerStatus.FAILED);
          assert.match(d.reason, /FAILED/, `dead letter ${d.id} has a reason`);
        }
        assert.deepEqual(q.deadLetters(), [], 'deadLetters() takes the record: a second call returns none');

        const stats = q.stats();
        assert.equal(stats.deadLettered, expectedDead.length, 'stats().deadLettered');
        assert.equal(stats.completed, MESSAGES - expectedDead.length, 'stats().completed');
        assert.equal(stats.retries, expectedRetries, 'stats().retries');
      });
    });
  }
}
