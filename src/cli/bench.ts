// `gpuqueue bench`: runs the benchmark package (bench/ in the repository: gpuqueue against its peers, each
// case in a forked process; --engine picks what is measured) as a child process. The bench has its own dependencies, so
// it is installed apart; this command checks that, compiles the bench when its sources changed, and
// passes the options on.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { PACKAGE_ROOT } from './package-root.js';

/** What `--engine` measures: bench/src/engine-plans.ts has one entry per name. */
const BENCH_ENGINES = {
  cpu: 'the cpu engine against Piscina and a plain loop',
  cuda: 'the cuda engine (1-8 producer threads) against launch-per-batch and CUDA Graph replay by hand, with the cpu and webgpu engines beside it; fails at once without a usable GPU',
  webgpu: 'the webgpu engine beside the cpu and (with a GPU) cuda engines; fails at once without a WebGPU adapter',
  redis: 'the redis engine against BullMQ and a hand-written Streams loop, a redis-server per case (redis-server on PATH)',
} as const;

export interface BenchOptions {
  engine: keyof typeof BENCH_ENGINES;
  machine?: string;
  quick?: boolean;
  out?: string;
  repeats?: string;
  only?: string;
  ringBatches?: string;
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark gpuqueue against its peers, side by side in one run; prints one table, writes JSON to bench/results/')
    .addOption(new Option('--engine <engine>', 'what to measure').choices(Object.keys(BENCH_ENGINES)).default('cpu'))
    .option('--quick', 'a small subset of the matrix (under 2 minutes)')
    .option('--out <dir>', 'directory for the JSON record (default: bench/results in the repository)')
    .option('--repeats <n>', 'processes per case; the table shows the median (default: 3 for cpu, 1 for cuda and webgpu, 1 with --quick)')
    .option('--machine <label>', 'how the JSON names this machine, e.g. "2-core VM"')
    .option('--ring-batches <n>', "gpuqueue's queue capacity in batches, 2 to 64 (default: 2): room for GPU engines to hold bigger batches")
    .option(
      '--only <contenders>',
      'comma-separated subset: gpuqueue, piscina-task, piscina-batched, plain-loop (cpu); gpuqueue, cuda-launch, cuda-graph (cuda); gpuqueue-redis, bullmq, redis-streams (redis)',
    )
    .addHelpText(
      'after',
      `\nEngines:\n${Object.entries(BENCH_ENGINES)
        .map(([name, what]) => `  ${name.padEnd(7)} ${what}`)
        .join('\n')}`,
    )
    .action(async (options: BenchOptions) => {
      process.exitCode = await runBench(options);
    });
}

const BENCH_DIR = join(PACKAGE_ROOT, 'bench');
const BENCH_MAIN = join(BENCH_DIR, 'dist', 'main.js');

export async function runBench(options: BenchOptions): Promise<number> {
  const problem = benchProblem();
  if (problem) {
    console.error(`gpuqueue bench: ${problem}`);
    return 1;
  }
  if (!buildIfStale()) return 1;
  const args = [BENCH_MAIN, '--engine', options.engine];
  if (options.quick) args.push('--quick');
  if (options.out !== undefined) args.push('--out', resolve(options.out));
  if (options.repeats !== undefined) args.push('--repeats', options.repeats);
  if (options.only !== undefined) args.push('--only', options.only);
  if (options.machine !== undefined) args.push('--machine', options.machine);
  if (options.ringBatches !== undefined) args.push('--ring-batches', options.ringBatches);
  const child = spawn(process.execPath, args, { cwd: BENCH_DIR, stdio: 'inherit' });
  const forward = () => child.kill('SIGINT');
  process.once('SIGINT', forward);
  try {
    return await new Promise<number>((done, fail) => {
      child.once('error', fail);
      child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
    });
  } finally {
    process.removeListener('SIGINT', forward);
  }
}

/** Why the bench cannot run here, in words that say what to do; undefined when it can. */
function benchProblem(): string | undefined {
  const root = relative(process.cwd(), PACKAGE_ROOT) || '.';
  if (!existsSync(join(BENCH_DIR, 'package.json'))) {
    return 'the benchmark package (bench/) is not here: it lives in the gpuqueue repository and is not part of the published package';
  }
  if (!existsSync(join(BENCH_DIR, 'node_modules'))) {
    return `bench/node_modules is missing: the bench has its own dependencies (Piscina…). Run:\n  npm install --prefix ${join(root, 'bench')}`;
  }
  return undefined;
}

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles bench/src → bench/dist with the repository's TypeScript when the sources are newer. */
function buildIfStale(): boolean {
  const sourcesMs = Math.max(newestSourceMs(join(BENCH_DIR, 'src')), statSync(join(BENCH_DIR, 'tsconfig.json')).mtimeMs);
  if (existsSync(BENCH_MAIN) && statSync(BENCH_MAIN).mtimeMs >= sourcesMs) return true;
  let tsc: string;
  try {
    tsc = createRequire(join(PACKAGE_ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    console.error(
      'gpuqueue bench: bench/dist is missing or stale and TypeScript is not installed here; run `npm install` in the repository, then try again',
    );
    return false;
  }
  console.error('gpuqueue bench: compiling bench/ …');
  const built = spawnSync(process.execPath, [tsc, '-p', join(BENCH_DIR, 'tsconfig.json')], { stdio: 'inherit' });
  if (built.status !== 0) {
    console.error('gpuqueue bench: compiling bench/ failed (see above)');
    return false;
  }
  return true;
}
