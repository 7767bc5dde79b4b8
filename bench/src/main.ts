// The bench runner: plans the cases (matrix.ts), forks runner.ts once per case, prints a line per case
// as it goes, then the one table, and writes the JSON. Exits 1 when any result failed its check.
//   node dist/main.js [--engine cpu|redis] [--quick] [--repeats n] [--out results] [--only gpuqueue,plain-loop]
import { fork } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CaseSpec } from './contender.js';
import { ENGINE_BENCHES } from './matrix.js';
import { renderTable, withComparisons, writeJson } from './report.js';
import type { RunResult } from './runner.js';
import { type CaseSummary, summarize } from './summary.js';

const RUNNER_FILE = fileURLToPath(new URL('./runner.js', import.meta.url));
const ENGINES = Object.keys(ENGINE_BENCHES);
/** Beyond warm-up + duration: forking, setup and teardown. A case past this is killed and reported. */
const CASE_SLACK_MS = 60_000;

const USAGE = `usage: node dist/main.js [--engine ${ENGINES.join('|')}] [--quick] [--repeats <n>] [--out <dir>] [--only <contender,…>]
  --engine  engine gpuqueue runs on (its own contenders and matrix) default: cpu
  --quick   a small subset of the matrix (well under 2 minutes)
  --repeats processes per case; the table shows the median rate   default: 3 (1 with --quick)
  --out     directory for the JSON record                        default: results (beside this package)
  --machine how the JSON names this machine, e.g. "2-core VM"
  --only    contenders to run, comma-separated: ${Object.entries(ENGINE_BENCHES)
    .map(([engine, b]) => `${b.contenders.join(', ')} (${engine})`)
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
  const what = spec.mode === 'round-trip' ? 'round trip' : `batch ${spec.batch}`;
  const fail = spec.contender === 'gpuqueue' && spec.mode === 'throughput' ? `, ${spec.failRate * 100} % fail` : '';
  return `${spec.contender} ${spec.payloadBytes} B, ${what}${fail}`;
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const bench = ENGINE_BENCHES[values.engine];
  if (!bench) {
    console.error(`--engine must be one of ${ENGINES.join(', ')}; got ${JSON.stringify(values.engine)}\n${USAGE}`);
    return 2;
  }
  const only = values.only === undefined ? undefined : new Set(values.only.split(',').map((s) => s.trim()));
  for (const name of only ?? []) {
    if (!(bench.contenders as readonly string[]).includes(name)) {
      console.error(
        `--only: unknown contender ${JSON.stringify(name)} for --engine ${values.engine}; known: ${bench.contenders.join(', ')}`,
      );
      return 2;
    }
  }
  const plan = { ...(values.quick ? bench.quick : bench.full) };
  if (values.repeats !== undefined) {
    const n = Number(values.repeats);
    if (!Number.isInteger(n) || n < 1 || n > 100) {
      console.error(`--repeats must be an integer from 1 to 100; got ${JSON.stringify(values.repeats)}`);
      return 2;
    }
    plan.repeats = n;
  }
  const outDir = resolve(values.out ?? fileURLToPath(new URL('../results', import.meta.url)));
  const cases = bench.planCases(plan, only);
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
        `${tag}: ${r.msgPerSec.toLocaleString('en-US')} msg/s${each}, p50 ${r.latencyUs.p50} µs, p99 ${r.latencyUs.p99} µs${bad ? '  CHECK FAILED' : ''}`,
      );
    } catch (error) {
      failed++;
      console.error(`${tag}: FAILED: ${(error as Error).message}`);
    }
  }

  const rows = withComparisons(results, bench.baseline);
  console.log(renderTable(rows, bench.baseline));
  const file = await writeJson(
    outDir,
    {
      engine: values.engine,
      quick: values.quick,
      plan,
      startedAt,
      loadavg: { before: loadBefore, after: loadavg() },
      baseline: bench.baseline,
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
