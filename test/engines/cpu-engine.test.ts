// The cpu engine's own promises beyond the contract suite: a consumer thread that dies is replaced, the
// message it died on runs again (at-least-once), and a message that kills every consumer that runs it is
// dead-lettered as CONSUMER_DIED instead of crash-looping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashes } from '../../src/handlers/crash/crash.js';
import { fnv1a, HandlerStatus, open } from '../../src/index.js';

const payloadFor = (i: number): Uint8Array => Uint8Array.from({ length: 64 }, (_, j) => (i * 31 + j * 7) & 0xff);

describe('cpu engine consumers that die', () => {
  it('replaces a dead consumer and re-runs the message it died on', async () => {
    const params = { crashRate: 0.002, crashAttempts: 1, seed: 7 };
    await using q = await open({ backend: 'cpu', workers: 2, capacity: 256, handler: { name: 'crash', inner: 'checksum', ...params } });
    const payloads = Array.from({ length: 2000 }, (_, i) => payloadFor(i));
    // Each crash costs a worker start (hundreds of ms on a busy 2-core machine): allow for it.
    const ids = await q.enqueueBatch(payloads, { timeoutMs: 60_000 });
    const crashing = ids.filter((id) => crashes(id, 0, params));
    assert.ok(crashing.length > 0, 'the chosen rate must crash at least one message of this run');
    for (const [i, id] of ids.entries()) {
      const c = await q.result(id, { timeoutMs: 60_000 });
      assert.equal(c.status, 'ok', `message ${id}`);
      assert.equal(Buffer.from(c.data).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array));
      assert.equal(c.attempts, crashing.includes(id) ? 2 : 1, `attempts of message ${id}`);
    }
    assert.match(q.stats().engineDetail, /replaced after dying/);
  });

  it('dead-letters a message that kills every consumer that runs it', async () => {
    const params = { crashRate: 0.02, crashAttempts: Number.POSITIVE_INFINITY, seed: 3 };
    await using q = await open({
      backend: 'cpu',
      workers: 1,
      capacity: 64,
      maxRetries: 2,
      handler: { name: 'crash', inner: 'echo', ...params },
    });
    const payloads = Array.from({ length: 200 }, (_, i) => payloadFor(i));
    const ids = await q.enqueueBatch(payloads, { timeoutMs: 60_000 });
    const poison = ids.filter((id) => crashes(id, 0, params));
    assert.ok(poison.length > 0);
    for (const [i, id] of ids.entries()) {
      const c = await q.result(id, { timeoutMs: 60_000 });
      if (poison.includes(id)) {
        assert.equal(c.status, 'dead-letter');
        assert.equal(c.handlerStatus, HandlerStatus.CONSUMER_DIED);
        assert.equal(c.attempts, 3);
        assert.match(c.reason ?? '', /CONSUMER_DIED/);
      } else {
        assert.equal(c.status, 'ok');
        assert.deepEqual(c.data, payloads[i]);
      }
    }
    const dead = q.deadLetters();
    assert.deepEqual(
      dead.map((d) => d.id).sort((a, b) => a - b),
      poison,
    );
  });
});
