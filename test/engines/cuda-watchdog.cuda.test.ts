// A GPU handler that never returns: the crash handler with how: 'hang' spins on chosen ids, so its block
// stops making progress, the kernel's heartbeat stops, and the host's watchdog fails the queue after
// watchdogMs: pending calls reject with EngineFailedError naming the stuck message (no hang), stats say
// so, shutdown returns (the context is reset, which ends the kernel) and nothing is lost. The fallback
// case is in cuda-watchdog-fallback.cuda.test.ts (a process of its own). Skipped, with the reason,
// without a usable GPU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashes } from '../../src/handlers/crash/crash.js';
import { EngineFailedError, open } from '../../src/index.js';
import { cudaSkip } from '../support/gpu-skip.js';

const skip = cudaSkip('cuda watchdog test');

const payloadFor = (i: number): Uint8Array => Uint8Array.from({ length: 100 }, (_, j) => (i * 5 + j) & 0xff);
const hang = { how: 'hang', crashRate: 0.001, crashAttempts: 1, seed: 5 };

describe('a GPU handler that never returns', { skip }, () => {
  it('is caught by the watchdog: pending calls reject, stats say why, shutdown returns, nothing lost', async () => {
    const watchdogMs = 400;
    const q = await open({
      backend: 'cuda',
      capacity: 4096,
      slotBytes: 128,
      watchdogMs,
      handler: { name: 'crash', inner: 'checksum', ...hang },
    });
    assert.ok(q.stats().heartbeatAgeMs !== undefined && (q.stats().heartbeatAgeMs as number) < watchdogMs, 'a fresh heartbeat');
    const ids = await q.enqueueBatch(Array.from({ length: 3000 }, (_, i) => payloadFor(i)));
    const stuck = ids.filter((id) => crashes(id, 0, hang));
    assert.ok(stuck.length > 0, 'this run must include a message that hangs');
    const started = performance.now();
    const outcomes = await Promise.allSettled(ids.map((id) => q.result(id, { timeoutMs: 30_000 })));
    const waitedMs = performance.now() - started;
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.ok(failed.length > 0, 'the stuck message cannot complete');
    for (const o of failed) assert.ok(o.reason instanceof EngineFailedError, String(o.reason));
    assert.ok(waitedMs < 10_000, `the watchdog fired after ${Math.round(waitedMs)} ms, not at the result timeout`);
    const stats = q.stats();
    assert.equal(stats.state, 'failed');
    assert.match(
      stats.fault ?? '',
      new RegExp(`heartbeat stopped \\d+ ms ago \\(watchdogMs ${watchdogMs}\\).*in flight: messages? [\\d, ]*\\b(${stuck.join('|')})\\b`),
    );
    const report = await q.shutdown({ timeoutMs: 100 });
    // Nothing lost: each message whose wait failed is undelivered (still in the ring) or kept as a completion.
    const undelivered = new Set(report.undelivered.map((u) => u.id));
    for (const id of stuck) assert.ok(undelivered.has(id), `stuck message ${id} is reported undelivered`);
    ids.forEach((id, i) => {
      if (outcomes[i]?.status === 'fulfilled' || undelivered.has(id)) return;
      assert.equal(q.tryDequeueResult(id).id, id, `message ${id} is neither undelivered nor kept`);
    });
  });
});
