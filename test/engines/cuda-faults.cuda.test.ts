// A GPU consumer that dies holding messages: the crash handler traps on chosen ids, which kills the CUDA
// context. Without a fallback every pending call rejects with EngineFailedError (no hang), nothing is
// lost, and CUDA then reports itself unusable in this process (the driver refuses new contexts after a
// fault: later queues get a clear error at once, `auto` moves on). The fallback case is in
// cuda-fallback.cuda.test.ts: a test file is a process of its own, and a fault poisons CUDA for the
// process. Skipped, with the reason, without a usable GPU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashes } from '../../src/handlers/crash/crash.js';
import { EngineFailedError, open } from '../../src/index.js';
import { cudaSkip } from '../support/gpu-skip.js';

const skip = cudaSkip('cuda fault tests');

const payloadFor = (i: number): Uint8Array => Uint8Array.from({ length: 200 }, (_, j) => (i * 13 + j) & 0xff);
const crashParams = { crashRate: 0.002, crashAttempts: 1, seed: 11 };

describe('a GPU consumer that dies', { skip }, () => {
  it('fails pending calls with EngineFailedError instead of hanging, without a fallback', async () => {
    const q = await open({
      backend: 'cuda',
      capacity: 4096,
      slotBytes: 256,
      handler: { name: 'crash', inner: 'checksum', ...crashParams },
    });
    const ids = await q.enqueueBatch(Array.from({ length: 2000 }, (_, i) => payloadFor(i)));
    assert.ok(
      ids.some((id) => crashes(id, 0, crashParams)),
      'this run must include a message that traps',
    );
    const outcomes = await Promise.allSettled(ids.map((id) => q.result(id, { timeoutMs: 20_000 })));
    const failed = outcomes.filter((o) => o.status === 'rejected');
    assert.ok(failed.length > 0, 'the trapped message cannot complete');
    for (const o of failed)
      assert.ok((o as PromiseRejectedResult).reason instanceof EngineFailedError, String((o as PromiseRejectedResult).reason));
    assert.equal(q.stats().state, 'failed');
    assert.match(q.stats().fault ?? '', /CUDA_ERROR|kernel/);
    const report = await q.shutdown({ timeoutMs: 100 });
    assert.ok(report.undelivered.length > 0, 'unfinished messages are reported, not lost');
    // The process's CUDA is poisoned now: an explicit cuda queue fails at once, saying why.
    await assert.rejects(
      open({ backend: 'cuda', capacity: 64, slotBytes: 64, handler: 'checksum' }),
      /kernel fault in this process.*restarts/,
    );
    // Nothing lost: each message whose wait failed is either undelivered (still in the ring, payload
    // returned) or finished before the context died and is kept as a completion.
    const undelivered = new Set(report.undelivered.map((u) => u.id));
    ids.forEach((id, i) => {
      if (outcomes[i]?.status === 'fulfilled') return;
      if (undelivered.has(id)) return;
      assert.equal(q.tryDequeueResult(id).id, id, `message ${id} is neither undelivered nor kept`);
    });
  });
});
