// The multi-producer protocol stress (scripts/gpu-stress.mjs: producer threads on a small ring that wraps
// many times, retries, pause/resume, shutdown while producers run; every message accounted for, results
// checked, per-key order kept), here on the cpu engine; cuda-stress.cuda.test.ts runs it on the GPU.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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

test('producer threads, wrap-around, retries, pause/resume and shutdown mid-flight lose nothing (cpu)', async () => {
  const { stdout } = await run(
    process.execPath,
    [script, '--backend', 'cpu', '--workers', '2', '--producers', '4', '--messages', '2500', '--capacity', '256'],
    {
      timeout: 120_000,
    },
  );
  const line = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number | string[]>;
  assert.equal(line.violations, 0, JSON.stringify(line.firstViolations));
  assert.ok((line.completedChecked as number) > 0);
  assert.equal((line.accepted as number) + (line.refusedAtShutdown as number), 4 * 2500);
  assert.equal(line.completedChecked as number, (line.accepted as number) - (line.undelivered as number));
});
