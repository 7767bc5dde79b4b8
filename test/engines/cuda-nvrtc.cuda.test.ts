// A user's CUDA handler (handler `cuda`) on the GPU: NVRTC compiles the persistent kernel with it, results
// equal the JS reference, the second queue takes the PTX from the disk cache, wrappers apply to it as to
// a built-in, and a compile error rejects open() with NVRTC's log pointing at the user's line. Skipped,
// with the reason, without a usable GPU or without libnvrtc.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nvrtcStatus } from '../../src/engines/cuda/driver/nvrtc.js';
import { faultFails } from '../../src/handlers/fault/fault.js';
import { InvalidArgumentError, open } from '../../src/index.js';
import { BROKEN_SOURCE, WEIGHTED_SUM_SOURCE, weightedSum } from '../fixtures/cuda-user-handlers.js';
import { cudaSkip } from '../support/gpu-skip.js';

const skip = cudaSkip('cuda NVRTC tests', () => {
  const nvrtc = nvrtcStatus();
  return nvrtc.usable ? false : `no NVRTC: ${nvrtc.reason}`;
});

// A cache of this test's own, so the first open really compiles.
const cacheDir = mkdtempSync(join(tmpdir(), 'gpuqueue-nvrtc-cache-'));
process.env.GPUQUEUE_CACHE_DIR = cacheDir;
after(() => rmSync(cacheDir, { recursive: true, force: true }));

const payloadFor = (i: number): Uint8Array => Uint8Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (i * 7 + j * 3) & 0xff);
const handler = { name: 'cuda', source: WEIGHTED_SUM_SOURCE, resultBytes: 8 };

describe('a user CUDA handler compiled with NVRTC', { skip }, () => {
  it('gives the JS reference result for every message, then opens from the disk cache', async () => {
    for (const round of ['compiled', 'cached']) {
      await using q = await open({ backend: 'cuda', capacity: 4096, slotBytes: 304, handler });
      assert.match(q.stats().engineDetail, round === 'compiled' ? /NVRTC [\d.]+, compiled in \d+ ms/ : /NVRTC [\d.]+, from the disk cache/);
      const payloads = Array.from({ length: 3000 }, (_, i) => payloadFor(i));
      const ids = await q.enqueueBatch(payloads);
      for (const [i, id] of ids.entries()) {
        const c = await q.result(id, { timeoutMs: 20_000 });
        assert.equal(c.status, 'ok', `message ${id}`);
        assert.deepEqual(c.data, weightedSum(payloads[i] as Uint8Array), `result of message ${id}`);
      }
    }
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.ptx')).length, 1, 'one cached kernel');
  });

  it('runs under the fault wrapper like a built-in: the same messages are dead-lettered', async () => {
    const fault = { failRate: 0.05, failAttempts: Number.POSITIVE_INFINITY, seed: 3 };
    await using q = await open({
      backend: 'cuda',
      capacity: 1024,
      slotBytes: 304,
      maxRetries: 1,
      handler: { name: 'fault', inner: handler, ...fault },
    });
    const payloads = Array.from({ length: 1000 }, (_, i) => payloadFor(i));
    const ids = await q.enqueueBatch(payloads);
    let dead = 0;
    for (const [i, id] of ids.entries()) {
      const c = await q.result(id, { timeoutMs: 20_000 });
      if (faultFails(id, 0, fault)) {
        assert.equal(c.status, 'dead-letter', `message ${id} must fail`);
        dead++;
      } else {
        assert.equal(c.status, 'ok', `message ${id}`);
        assert.deepEqual(c.data, weightedSum(payloads[i] as Uint8Array));
      }
    }
    assert.ok(dead > 0);
  });

  it('rejects a source that does not compile with the NVRTC log at the user line', async () => {
    await assert.rejects(
      open({ backend: 'cuda', capacity: 256, slotBytes: 64, handler: { name: 'cuda', source: BROKEN_SOURCE } }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError, String(e));
        assert.match(e.message, /handler cuda: the source does not compile \(NVRTC [\d.]+\)/);
        assert.match(e.message, /handler\.cu\(3\): error: identifier "not_declared_anywhere" is undefined/);
        return true;
      },
    );
  });
});
