#!/usr/bin/env node
// Builds the cuda engine's PTX: the persistent kernel (src/engines/cuda/kernels/persistent_consumer.cu)
// once per leaf handler, with every wrapper handler (fault, slow) linked in, into dist/kernels/<leaf>.ptx,
// plus the bench's launch-per-batch baseline (bench/kernels/baseline_batch.cu: one thread per message
// running the same handler) into dist/kernels/baseline_<leaf>.ptx, and manifest.json naming what was
// built. A leaf is a src/handlers/<name>/<name>.cu that defines
// `process_message`; the others are wrappers. Needs nvcc (no GPU): CI runs it so device code can't rot.
//   node scripts/build-kernels.mjs [--out DIR] [-- extra nvcc flags]   (NVCC=/path/to/nvcc to pick a compiler)
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const outDir = outArg > 0 ? resolve(process.argv[outArg + 1] ?? '') : join(root, 'dist', 'kernels');
const kernel = join(root, 'src', 'engines', 'cuda', 'kernels', 'persistent_consumer.cu');
const baselineKernel = join(root, 'bench', 'kernels', 'baseline_batch.cu');
const nvcc = process.env.NVCC ?? 'nvcc';
// compute_90: PTX the driver JIT-compiles for Hopper and later. -fmad=false backs up the handlers'
// explicit __fadd_rn/__fmul_rn: float results must equal JS bit for bit. -lineinfo lets
// compute-sanitizer name source lines.
const FLAGS = ['-arch=compute_90', '-ptx', '-std=c++17', '-Werror', 'all-warnings', '-fmad=false', '-lineinfo'];
const extra = process.argv.includes('--') ? process.argv.slice(process.argv.indexOf('--') + 1) : [];

async function handlerSources() {
  const dir = join(root, 'src', 'handlers');
  const leaves = [];
  const wrappers = [];
  for (const entry of (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const file = join(dir, entry.name, `${entry.name}.cu`);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    (/__device__\s+int\s+process_message\s*\(/.test(text) ? leaves : wrappers).push({ name: entry.name, file });
  }
  return { leaves, wrappers };
}

async function main() {
  let version;
  try {
    const lines = (await run(nvcc, ['--version'])).stdout.trim().split('\n');
    version = (lines.find((l) => l.includes('release')) ?? lines.at(-1) ?? 'nvcc').trim();
  } catch (error) {
    console.error(`build-kernels: cannot run nvcc (${nvcc}): ${error.message}. Install the CUDA toolkit or set NVCC.`);
    process.exit(1);
  }
  const { leaves, wrappers } = await handlerSources();
  await mkdir(outDir, { recursive: true });
  const started = performance.now();
  // Each leaf twice: the persistent kernel with every wrapper linked in, and the baseline with the leaf alone.
  const jobs = leaves.flatMap((leaf) => [
    { what: leaf.name, source: kernel, handlers: [...wrappers, leaf], out: join(outDir, `${leaf.name}.ptx`) },
    { what: `baseline_${leaf.name}`, source: baselineKernel, handlers: [leaf], out: join(outDir, `baseline_${leaf.name}.ptx`) },
  ]);
  const results = await Promise.allSettled(
    jobs.map(async (job) => {
      const includes = job.handlers.flatMap((h) => ['-include', h.file]);
      await run(nvcc, [...FLAGS, ...extra, ...includes, job.source, '-o', job.out], { cwd: root });
      return relative(root, job.out);
    }),
  );
  let failed = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') console.log(`built ${r.value}`);
    else {
      failed++;
      console.error(`build-kernels: ${jobs[i]?.what} failed:\n${r.reason.stderr || r.reason.message}`);
    }
  });
  if (failed > 0) process.exit(1);
  const manifest = {
    nvcc: version,
    flags: [...FLAGS, ...extra],
    kernel: 'gq_persistent_consumer',
    baselineKernel: 'gq_baseline_batch',
    handlers: leaves.map((l) => l.name),
    wrappers: wrappers.map((w) => w.name),
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(
    `${leaves.length} kernels + ${leaves.length} baselines (wrappers: ${manifest.wrappers.join(', ')}) in ${((performance.now() - started) / 1000).toFixed(1)} s with ${version}`,
  );
}

await main();
