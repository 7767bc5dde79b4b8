// A GPU consumer that dies holding messages, with `fallback: 'cpu'`: the crash handler traps on chosen
// ids, which kills the CUDA context; cpu workers take over the same ring in place and every message
// completes with the right checksum, the trapped ones re-run. A file of its own, so the CUDA context it
// starts with is fresh: after a fault the driver refuses new contexts for the rest of the process.
// Skipped, with the reason, without a usable GPU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashes } from '../../src/handlers/crash/crash.js';
import { fnv1a, open } from '../../src/index.js';
import { cudaSkip } from '../support/gpu-skip.js';

const skip = cudaSkip('cuda fallback test');

const payloadFor = (i: number): Uint8Array => Uint8Array.from({ length: 200 }, (_, j) => (i * 13 + j) & 0xff);
const crashParams = { crashRate: 0.002, crashAttempts: 1, seed: 11 };

describe('a GPU consumer that dies, with a cpu fallback', { skip }, () => {
  it("hands every unfinished message to cpu workers with fallback: 'cpu'", async () => {
    await using q = await open({
      backend: 'cuda',
      fallback: 'cpu',
      capacity: 4096,
      slotBytes: 256,
      handler: { name: 'crash', inner: 'checksum', ...crashParams },
    });
    const payloads = Array.from({ length: 5000 }, (_, i) => payloadFor(i));
    const ids = await q.enqueueBatch(payloads);
    const trapped = ids.filter((id) => crashes(id, 0, crashParams));
    assert.ok(trapped.length > 0);
    for (const [i, id] of ids.entries()) {
      const c = await q.result(id, { timeoutMs: 30_000 });
      assert.equal(c.status, 'ok', `message ${id}`);
      assert.equal(Buffer.from(c.data).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array), `checksum of message ${id}`);
    }
    assert.match(q.stats().fellBackFrom ?? '', /^cuda/);
    assert.equal(q.stats().engine, 'cpu');
  });
});
