// The cuda engine's device code compiles, warning-free, with every built-in handler: runs the kernel
// build into a temporary folder. Needs nvcc (not a GPU); skipped, with the reason, where there is none.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BASELINE_PARAM_BYTES } from '../../bench/src/cuda-batch-layout.js';
import { LAUNCH_PARAM_BYTES } from '../../src/engines/cuda/launch-params.js';
import { nvccMissing } from '../support/gpu-skip.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the persistent kernel builds to PTX with every built-in handler', { skip: nvccMissing() }, () => {
  const out = mkdtempSync(join(tmpdir(), 'gpuqueue-kernels-'));
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-kernels.mjs'), '--out', out], { stdio: 'pipe' });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { handlers: string[]; wrappers: string[] };
    assert.deepEqual(manifest.handlers, ['checksum', 'echo', 'vector-stats']);
    assert.deepEqual(manifest.wrappers, ['crash', 'fault', 'slow']);
    for (const handler of manifest.handlers) {
      const ptx = readFileSync(join(out, `${handler}.ptx`), 'utf8');
      assert.match(ptx, /\.entry gq_persistent_consumer\(/, `${handler}.ptx has the kernel`);
      assert.match(ptx, /st\.release\.sys/, `${handler}.ptx publishes DONE with a system-scope release`);
      // launch-params.ts encodes gq::ConsumerParams word by word: the sizes must agree.
      assert.match(
        ptx,
        new RegExp(`gq_persistent_consumer_param_1\\[${LAUNCH_PARAM_BYTES}\\]`),
        `${handler}.ptx takes ${LAUNCH_PARAM_BYTES} bytes of params`,
      );
      // PCIe hosts need not support device atomics: read-modify-writes may only touch shared memory.
      const atomics = ptx.split('\n').filter((line) => /\b(atom|red)\./.test(line));
      assert.deepEqual(
        atomics.filter((line) => !/\.shared\./.test(line)),
        [],
        `${handler}.ptx has no atomics outside shared memory`,
      );
    }
    // The bench's launch-per-batch baseline, per leaf: its params are what cuda-batch-layout.ts encodes.
    for (const handler of manifest.handlers) {
      const ptx = readFileSync(join(out, `baseline_${handler}.ptx`), 'utf8');
      assert.match(ptx, /\.entry gq_baseline_batch\(/, `baseline_${handler}.ptx has the kernel`);
      assert.match(ptx, new RegExp(`gq_baseline_batch_param_1\\[${BASELINE_PARAM_BYTES}\\]`), `baseline_${handler}.ptx params`);
    }
    // Bit-identical float results rule out FMA contraction.
    assert.doesNotMatch(readFileSync(join(out, 'vector-stats.ptx'), 'utf8'), /\bfma\./);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
