// The bench runner: plans the cases (matrix.ts), forks runner.ts once per case, prints a line per case
// as it goes, then the one table, and writes the JSON. Exits 1 when any result failed its check, 2 when
// the run cannot happen here (a bad option, or --engine cuda/webgpu without that engine: the reason why).
//   node dist/main.js [--engine cpu|cuda|webgpu] [--quick] [--repeats n] [--out results] [--only gpuqueue,plain-loop] [--ring-batches n] [--in-flight n]
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { diagnoseEngines } from 'gpuqueue';
import { probeCuda } from 'gpuqueue/cuda-driver';
import { integerOption } from './cli-options.js';
import type { CaseSpec } from './contender.js';
import { baselinePtxPath } from './cuda-batch.js';
import { ENGINE_NAMES, ENGINE_PLANS } from './engine-plans.js';
import { engineNeeded } from './gpu-matrix.js';
import { labelOf, type RunInfo, renderTable, withComparisons, writeJson } from './report.js';
import type { RunResult } from './runner.js';
import { type CaseSummary, summarize } from './summary.js';

const RUNNER_FILE = fileURLToPath(new URL('./runner.js', import.meta.url));
/** Beyond warm-up + duration: forking, setup and teardown. A case past this is killed and reported. */
const CASE_SLACK_MS = 60_000;

const USAGE = `usage: node dist/main.js [--engine ${ENGINE_NAMES.join('|')}] [--quick] [--repeats <n>] [--out <dir>] [--only <contender,…>] [--ring-batches <n>] [--in-flight <n>]
  --engine  what to measure                                       default: cpu
${ENGINE_NAMES.map((e) => `              ${e}: ${ENGINE_PLANS[e]?.summary}`).join('\n')}
            cuda (webgpu) fails at once, saying why, where that engine cannot run; other engines'
            cases are skipped with the reason (printed, and kept in the JSON)
  --quick   a small subset of the matrix (under 2 minutes)
  --repeats processes per case; the table shows the median rate   default: 3 for cpu, 1 for cuda/webgpu (1 with --quick)
  --out     directory for the JSON record                        default: results (beside this package)
  --machine how the JSON names this machine, e.g. "2-core VM"
  --ring-batches gpuqueue's queue capacity in batches (2-64; power of two ≥ n × batch) default: 2
  --in-flight gpuqueue's batches handed over before the first is back (2-64; the ring holds at least
            as many; the peers keep 2); the table then says "n in flight"   default: 2
  --only    contenders to run, comma-separated: ${Object.entries(ENGINE_PLANS)
    .map(([name, e]) => `${e.contenders.join(', ')} (${name})`)
    .join('; ')}`;

type Reply = { ok: true; result: RunResult } | { ok: false; error: string };

function runOnce(spec: CaseSpec): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(RUNNER_FILE, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: Reply | undefined;
    const timer = setTimeout(
      () => {
        // SIGTERM first: the case's process then kills the redis-server it started (redis/server.ts).
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        reject(new Error(`timed out after ${spec.warmupMs + spec.durationMs + CASE_SLACK_MS} ms`));
      },
      spec.warmupMs + spec.durationMs + CASE_SLACK_MS,
    );
    child.once('message', (m: Reply) => {
      reply = m;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (reply?.ok) resolvePromise(reply.result);
      else reject(new Error(reply ? reply.error : `the runner exited (${signal ?? `code ${code}`}) without a result`));
    });
    child.send(spec);
  });
}

function describe(spec: CaseSpec): string {
  const what = spec.mode === 'round-trip' ? '' : `, batch ${spec.batch}`;
  const threads =
    spec.producers === undefined || spec.mode === 'round-trip'
      ? ''
      : spec.producers === 0
        ? ', owner thread enqueues'
        : `, ${spec.producers} producer thread${spec.producers > 1 ? 's' : ''}`;
  const fail =
    spec.contender === 'gpuqueue' && spec.mode === 'throughput' && spec.backend === undefined ? `, ${spec.failRate * 100} % fail` : '';
  return `${labelOf(spec)} ${spec.payloadBytes} B${what}${threads}${fail}`;
}

/**
 * Why each GPU engine in `needed` cannot run here (absent: it can), and the devices seen. CUDA is asked
 * first, and a required engine that is missing ends the questions (no Dawn probe to wait for).
 */
async function engineAvailability(
  needed: Set<string>,
  required: readonly string[],
): Promise<{ why: Map<string, string>; devices: Record<string, unknown> }> {
  const why = new Map<string, string>();
  const devices: Record<string, unknown> = {};
  if (needed.has('cuda')) {
    const probe = probeCuda();
    const kernels = dirname(baselinePtxPath());
    if (!probe.usable) why.set('cuda', probe.reason);
    else if (!existsSync(join(kernels, 'checksum.ptx')) || !existsSync(baselinePtxPath()))
      why.set('cuda', `the CUDA kernels are not built in ${kernels}: run \`node scripts/build-kernels.mjs\` (needs nvcc)`);
    devices.cuda = probe.usable ? probe.device : { reason: why.get('cuda') };
    if (why.has('cuda') && required.includes('cuda')) return { why, devices };
  }
  if (needed.has('webgpu')) {
    const { webgpu } = await diagnoseEngines();
    if (!webgpu.usable) why.set('webgpu', webgpu.reason);
    devices.webgpu = webgpu.usable ? webgpu.adapter : { reason: webgpu.reason };
  }
  return { why, devices };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      engine: { type: 'string', default: 'cpu' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      repeats: { type: 'string' },
      machine: { type: 'string' },
      'ring-batches': { type: 'string' },
      'in-flight': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const engine = ENGINE_PLANS[values.engine];
  if (!engine) {
    console.error(`--engine must be one of ${ENGINE_NAMES.join(', ')}; got ${JSON.stringify(values.engine)}\n${USAGE}`);
    return 2;
  }
  const only = values.only === undefined ? undefined : new Set(values.only.split(',').map((s) => s.trim()));
  for (const name of only ?? []) {
    if (!(engine.contenders as readonly string[]).includes(name)) {
      console.error(
        `--only: unknown contender ${JSON.stringify(name)} for --engine ${values.engine}; known: ${engine.contenders.join(', ')}`,
      );
      return 2;
    }
  }
  const plan = { ...(values.quick ? engine.quick : engine.full) };
  const repeats = integerOption('--repeats', values.repeats, 1, 100);
  const ringBatches = integerOption('--ring-batches', values['ring-batches'], 2, 64);
  const inFlight = integerOption('--in-flight', values['in-flight'], 2, 64);
  if (repeats === null || ringBatches === null || inFlight === null) return 2;
  if (repeats !== undefined) plan.repeats = repeats;
  const outDir = resolve(values.out ?? fileURLToPath(new URL('../results', import.meta.url)));
  const planned = engine
    .planCases(plan, only)
    .map((spec) => (ringBatches === undefined ? spec : { ...spec, ringBatches }))
    .map((spec) => (inFlight === undefined || !spec.contender.startsWith('gpuqueue') ? spec : { ...spec, batchesInFlight: inFlight }));
  const needed = new Set<string>(engine.requires);
  for (const spec of planned) {
    const e = engineNeeded(spec);
    if (e) needed.add(e);
  }
  const { why, devices } = await engineAvailability(needed, engine.requires);
  for (const e of engine.requires) {
    const reason = why.get(e);
    if (reason) {
      console.error(`gpuqueue bench --engine ${values.engine}: cannot run here: ${e} is not usable: ${reason}`);
      return 2;
    }
  }
  const skipped: RunInfo['skipped'] = [];
  const cases = planned.filter((spec) => {
    const reason = why.get(engineNeeded(spec) ?? '');
    if (!reason) return true;
    const what = labelOf({ ...spec, mode: 'throughput' });
    const entry = skipped.find((s) => s.what === what);
    if (entry) entry.cases++;
    else skipped.push({ what, cases: 1, reason });
    return false;
  });
  for (const s of skipped) console.error(`gpuqueue bench: skipping ${s.what} (${s.cases} cases): ${s.reason}`);
  const startedAt = new Date();
  const estimateS = Math.ceil((plan.repeats * cases.reduce((s, c) => s + c.warmupMs + c.durationMs + 600, 0)) / 1000);
  const loadBefore = loadavg();
  if ((loadBefore[0] as number) > availableParallelism() / 2) {
    console.error(
      `gpuqueue bench: the machine is busy (load average ${loadBefore[0]?.toFixed(1)} on ${availableParallelism()} cores): expect noisy numbers`,
    );
  }
  console.error(
    `gpuqueue bench: ${cases.length} cases × ${plan.repeats} run(s), each run in its own process, about ${Math.ceil(estimateS / 60)} min`,
  );

  const results: CaseSummary[] = [];
  let failed = 0;
  for (const [i, spec] of cases.entries()) {
    const tag = `[${String(i + 1).padStart(String(cases.length).length)}/${cases.length}] ${describe(spec)}`;
    try {
      const runs: RunResult[] = [];
      for (let k = 0; k < plan.repeats; k++) runs.push(await runOnce(spec));
      const r = summarize(runs);
      results.push(r);
      const bad = r.mismatches > 0 || r.deadLetters !== r.expectedDeadLetters;
      if (bad) failed++;
      const each = runs.length > 1 ? ` (runs: ${r.runsMsgPerSec.map((n) => n.toLocaleString('en-US')).join(', ')})` : '';
      console.error(
        `${tag}: ${r.msgPerSec.toLocaleString('en-US')} msg/s${each}, batch p50 ${r.batchLatencyUs.p50} µs, p99 ${r.batchLatencyUs.p99} µs${bad ? '  CHECK FAILED' : ''}`,
      );
    } catch (error) {
      failed++;
      console.error(`${tag}: FAILED: ${(error as Error).message}`);
    }
  }

  const rows = withComparisons(results, engine.comparison);
  console.log(renderTable(rows, engine.comparison));
  for (const s of skipped) console.log(`skipped: ${s.what} (${s.cases} cases): ${s.reason}`);
  const file = await writeJson(
    outDir,
    {
      engine: values.engine,
      quick: values.quick,
      plan,
      comparison: engine.comparison,
      skipped,
      ...(needed.size > 0 ? { devices } : {}),
      startedAt,
      loadavg: { before: loadBefore, after: loadavg() },
      ...(values.machine ? { machineLabel: values.machine } : {}),
    },
    rows,
  );
  console.log(`wrote ${file}`);
  if (failed > 0) console.error(`${failed} case(s) failed or gave wrong results`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(error.stack ?? error);
    process.exitCode = 1;
  },
);
