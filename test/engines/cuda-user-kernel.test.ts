// A user's CUDA handler (handler `cuda`) without a GPU: the source the engine hands NVRTC (the kernel
// template with the user's process_message in place of a built-in) compiles with nvcc, warning-free, and a
// compile error names the line in the user's source; the handler is refused on engines that cannot run
// it. NVRTC itself runs on the GPU machine (cuda-nvrtc.cuda.test.ts): CI has nvcc but no libnvrtc.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assembleUserKernelSource, USER_SOURCE_NAME } from '../../src/engines/cuda/user-kernel.js';
import { InvalidArgumentError, open } from '../../src/index.js';
import { BROKEN_SOURCE, WEIGHTED_SUM_SOURCE } from '../fixtures/cuda-user-handlers.js';
import { NVCC, nvccMissing } from '../support/gpu-skip.js';

const skipNvcc = nvccMissing();
if (skipNvcc) console.log(`# nvcc checks of the user kernel skipped: ${skipNvcc}`);

/** Compiles an assembled source with nvcc and the build's flags; returns [ok, output]. */
function nvccCompile(source: string): { ok: boolean; ptx: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gpuqueue-user-kernel-'));
  try {
    writeFileSync(join(dir, 'k.cu'), source);
    try {
      execFileSync(NVCC, ['-arch=compute_90', '-ptx', '-std=c++17', '-fmad=false', '-Werror', 'all-warnings', 'k.cu', '-o', 'k.ptx'], {
        cwd: dir,
        stdio: 'pipe',
      });
      return { ok: true, ptx: readFileSync(join(dir, 'k.ptx'), 'utf8'), log: '' };
    } catch (error) {
      return { ok: false, ptx: '', log: String((error as { stderr?: Buffer }).stderr ?? error) };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the kernel source for a user CUDA handler', { skip: skipNvcc }, () => {
  it('compiles to the persistent kernel with the wrappers linked in', () => {
    const r = nvccCompile(assembleUserKernelSource(WEIGHTED_SUM_SOURCE));
    assert.ok(r.ok, r.log);
    assert.match(r.ptx, /\.entry gq_persistent_consumer\(/);
    assert.match(r.ptx, /st\.release\.sys/);
  });

  it('reports a compile error at the line of the user source', () => {
    const r = nvccCompile(assembleUserKernelSource(BROKEN_SOURCE));
    assert.equal(r.ok, false);
    assert.match(
      r.log,
      new RegExp(`${USER_SOURCE_NAME.replace('.', '\\.')}\\(3\\): error: identifier "not_declared_anywhere" is undefined`),
    );
  });
});

describe('handler cuda', () => {
  it('is refused on the cpu engine, saying which engine it needs', async () => {
    await assert.rejects(open({ backend: 'cpu', handler: { name: 'cuda', source: WEIGHTED_SUM_SOURCE } }), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match(e.message, /handler cuda \(CUDA source\) runs on the cuda engine only; this queue's engine is cpu/);
      return true;
    });
  });

  it('is refused under a wrapper on the cpu engine too', async () => {
    await assert.rejects(
      open({ backend: 'cpu', handler: { name: 'fault', inner: { name: 'cuda', source: WEIGHTED_SUM_SOURCE }, failRate: 0.1 } }),
      /runs on the cuda engine only/,
    );
  });

  it('cannot fall back to cpu: it has no JS implementation', async () => {
    await assert.rejects(
      open({ backend: 'cuda', fallback: 'cpu', handler: { name: 'cuda', source: WEIGHTED_SUM_SOURCE } }),
      /fallback 'cpu'.*handler cuda \(CUDA source\) has none/,
    );
  });

  it('checks its parameters', async () => {
    await assert.rejects(open({ backend: 'cpu', handler: { name: 'cuda', source: 42 } }), /source must be CUDA C\+\+ text defining/);
    await assert.rejects(
      open({ backend: 'cpu', handler: { name: 'cuda', source: WEIGHTED_SUM_SOURCE, resultBytes: 0 } }),
      /resultBytes must be a positive integer; got 0/,
    );
  });
});

describe('handler crash, how', () => {
  it("accepts 'exit' and 'hang' only", async () => {
    await assert.rejects(
      open({ backend: 'cpu', handler: { name: 'crash', inner: 'echo', how: 'explode' } }),
      /crash handler: how must be 'exit' or 'hang'; got "explode"/,
    );
  });
});
