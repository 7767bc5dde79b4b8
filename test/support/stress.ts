// Runs the multi-producer protocol stress (scripts/gpu-stress.mjs) in a child process and asserts its
// verdict: no violation, something checked, every message accepted or refused, every accepted one
// completed and checked or undelivered. Shared by the cpu and cuda stress tests. Registers no tests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SCRIPT = fileURLToPath(new URL('../../../scripts/gpu-stress.mjs', import.meta.url));

export interface StressRun {
  backend: 'cpu' | 'cuda';
  producers: number;
  messages: number;
  capacity: number;
  /** cpu engine worker threads. */
  workers?: number;
}

export async function assertStressClean(r: StressRun): Promise<void> {
  const args = [
    SCRIPT,
    '--backend',
    r.backend,
    '--producers',
    String(r.producers),
    '--messages',
    String(r.messages),
    '--capacity',
    String(r.capacity),
  ];
  if (r.workers !== undefined) args.push('--workers', String(r.workers));
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, { timeout: 120_000 }));
  } catch (error) {
    // A failure carries the script's output: its JSON line names the violations.
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\nstdout: ${e.stdout}\nstderr: ${e.stderr?.slice(-2000)}`);
  }
  const line = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number | string[]>;
  assert.equal(line.violations, 0, JSON.stringify(line.firstViolations));
  assert.ok((line.completedChecked as number) > 0);
  assert.equal((line.accepted as number) + (line.refusedAtShutdown as number), r.producers * r.messages);
  assert.equal(line.completedChecked as number, (line.accepted as number) - (line.undelivered as number));
}
