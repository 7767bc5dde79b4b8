// The multi-producer protocol stress (scripts/gpu-stress.mjs: producer threads on a small ring that wraps
// many times, retries, pause/resume, shutdown while producers run; every message accounted for, results
// checked, per-key order kept), on the GPU (the cuda engine). Skipped, with the reason, without a usable GPU.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { probeCuda } from '../../src/engines/cuda/driver/probe.js';
import { cudaReady } from '../../src/engines/cuda/plan.js';

const probe = probeCuda();
const skip = !probe.usable ? `no usable GPU: ${probe.reason}` : !cudaReady() ? 'cuda kernels not built: npm run build:kernels' : false;
if (skip) console.log(`# cuda stress test skipped: ${skip}`);

/** Runs the script; a failure carries its output (the JSON line names the violations). */
async function run(file: string, args: string[], options: { timeout: number }): Promise<{ stdout: string }> {
  try {
    return await promisify(execFile)(file, args, options);
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\nstdout: ${e.stdout}\nstderr: ${e.stderr?.slice(-2000)}`);
  }
}

const script = fileURLToPath(new URL('../../../scripts/gpu-stress.mjs', import.meta.url));

test('producer threads, wrap-around, retries, pause/resume and shutdown mid-flight lose nothing (cuda)', { skip }, async () => {
  const { stdout } = await run(
    process.execPath,
    [script, '--backend', 'cuda', '--producers', '8', '--messages', '5000', '--capacity', '1024'],
    {
      timeout: 120_000,
    },
  );
  const line = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number | string[]>;
  assert.equal(line.violations, 0, JSON.stringify(line.firstViolations));
  assert.ok((line.completedChecked as number) > 0);
  assert.equal((line.accepted as number) + (line.refusedAtShutdown as number), 8 * 5000);
  assert.equal(line.completedChecked as number, (line.accepted as number) - (line.undelivered as number));
});
