// A GPU handler that never returns, with `fallback: 'cpu'`: the watchdog fails the kernel (its heartbeat
// stopped), the context is reset (ending the stuck kernel), and cpu workers take over the ring in place:
// every message completes with the right checksum, the stuck ones on their second attempt (the hang is
// for the first attempt only). A file of its own: a process's CUDA context state is its own.
// Skipped, with the reason, without a usable GPU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashes } from '../../src/handlers/crash/crash.js';
import { fnv1a, open } from '../../src/index.js';
import { cudaSkip } from '../support/gpu-skip.js';

const skip = cudaSkip('cuda watchdog fallback test');

const payloadFor = (i: number): Uint8Array => Uint8Array.from({ length: 100 }, (_, j) => (i * 5 + j) & 0xff);
const hang = { how: 'hang', crashRate: 0.001, crashAttempts: 1, seed: 5 };

describe('a GPU handler that never returns, with a cpu fallback', { skip }, () => {
  it('completes every message on cpu workers after the watchdog fires', async () => {
    await using q = await open({
      backend: 'cuda',
      fallback: 'cpu',
      watchdogMs: 400,
      maxRetries: 2,
      capacity: 4096,
      slotBytes: 128,
      handler: { name: 'crash', inner: 'checksum', ...hang },
    });
    const payloads = Array.from({ length: 3000 }, (_, i) => payloadFor(i));
    const ids = await q.enqueueBatch(payloads);
    const stuck = new Set(ids.filter((id) => crashes(id, 0, hang)));
    assert.ok(stuck.size > 0);
    for (const [i, id] of ids.entries()) {
      const c = await q.result(id, { timeoutMs: 30_000 });
      assert.equal(c.status, 'ok', `message ${id}`);
      assert.equal(Buffer.from(c.data).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array), `checksum of message ${id}`);
      if (stuck.has(id)) assert.equal(c.attempts, 2, `stuck message ${id} ran again on the cpu`);
    }
    assert.match(q.stats().fellBackFrom ?? '', /^cuda.*heartbeat stopped/);
    assert.equal(q.stats().engine, 'cpu');
  });
});
