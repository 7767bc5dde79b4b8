// The output of a bench run: one table (cli-table3) with every case side by side, and the JSON record
// written to results/ with the date, the machine, and the versions measured.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import Table from 'cli-table3';
import { version as piscinaVersion } from 'piscina';
import type { ContenderName } from './contender.js';
import type { MatrixPlan } from './matrix.js';
import { BATCHES_IN_FLIGHT } from './runner.js';
import type { CaseSummary } from './summary.js';

export interface RowResult extends CaseSummary {
  mbPerSec: number;
  /** msg/s over the baseline's (Piscina batched for cpu, BullMQ for redis) at the same payload and batch (throughput rows only). */
  vsBaseline: number | null;
}

const LABELS: Record<ContenderName, string> = {
  gpuqueue: 'gpuqueue',
  'piscina-task': 'Piscina, task per message',
  'piscina-batched': 'Piscina, packed batch',
  'plain-loop': 'plain loop, 1 thread',
  'gpuqueue-redis': 'gpuqueue (redis)',
  bullmq: 'BullMQ',
  'redis-streams': 'Streams loop, by hand',
};

export function withComparisons(results: CaseSummary[], baselineName: ContenderName): RowResult[] {
  const baseline = new Map<string, number>();
  const at = (r: CaseSummary) => `${r.spec.payloadBytes}/${r.spec.batch}`;
  for (const r of results) if (r.spec.contender === baselineName && r.spec.mode === 'throughput') baseline.set(at(r), r.msgPerSec);
  return results.map((r) => {
    const base = r.spec.mode === 'throughput' ? baseline.get(at(r)) : undefined;
    return {
      ...r,
      mbPerSec: Math.round((r.msgPerSec * r.spec.payloadBytes) / 1e4) / 100,
      vsBaseline: base ? Math.round((r.msgPerSec / base) * 100) / 100 : null,
    };
  });
}

const bytes = (n: number) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KB` : `${n} B`);
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const micros = (n: number) => (n >= 100 ? int(n) : n.toFixed(1));
/** The runs' lowest and highest rate, in thousands of msg/s. */
function spread(rates: number[]): string {
  if (rates.length < 2) return '—';
  return `${int(Math.min(...rates) / 1000)}–${int(Math.max(...rates) / 1000)} k`;
}

function check(r: RowResult): string {
  const problems: string[] = [];
  if (r.mismatches > 0) problems.push(`${r.mismatches} mismatches`);
  if (r.deadLetters !== r.expectedDeadLetters) problems.push(`${r.deadLetters} dead letters, ${r.expectedDeadLetters} expected`);
  return problems.length === 0 ? 'ok' : problems.join('; ');
}

export function renderTable(rows: RowResult[], baselineName: ContenderName): string {
  // The spread column only when cases ran more than once.
  const repeated = rows.some((r) => r.runsMsgPerSec.length > 1);
  const pick = <T>(cells: T[]): T[] => (repeated ? cells : cells.filter((_, i) => i !== 5));
  const head = [
    'contender',
    'payload',
    'batch',
    'failures',
    'msg/s',
    'runs: min–max',
    'MB/s',
    'p50 µs',
    'p99 µs',
    `× vs ${LABELS[baselineName]}`,
  ];
  const table = new Table({
    head: pick([...head, 'retries', 'dead letters', 'check']),
    colAligns: pick([...head.map((_, i) => (i === 0 ? 'left' : 'right') as 'left' | 'right'), 'right', 'right', 'left']),
    style: { head: [], border: [] },
    // No rule between rows: 78 rows stay readable on one screen's width and in CI logs.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const r of rows) {
    const s = r.spec;
    const isQueue = s.contender.startsWith('gpuqueue') && s.mode === 'throughput';
    table.push(
      pick([
        s.mode === 'round-trip' ? `${LABELS[s.contender]}, round trip` : LABELS[s.contender],
        bytes(s.payloadBytes),
        s.mode === 'round-trip' ? '1' : int(s.batch),
        isQueue ? `${Math.round(s.failRate * 100)} %` : 'n/a',
        int(r.msgPerSec),
        spread(r.runsMsgPerSec),
        r.mbPerSec.toFixed(1),
        micros(r.latencyUs.p50),
        micros(r.latencyUs.p99),
        r.vsBaseline === null ? '—' : `${r.vsBaseline.toFixed(2)}×`,
        isQueue ? int(r.retries) : 'n/a',
        isQueue ? int(r.deadLetters) : 'n/a',
        check(r),
      ]),
    );
  }
  return table.toString();
}

function gitState(dir: string): { commit: string; srcDirty: boolean } | null {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return { commit, srcDirty: dirty.length > 0 };
  } catch {
    return null;
  }
}

export interface RunInfo {
  engine: string;
  quick: boolean;
  plan: MatrixPlan;
  startedAt: Date;
  /** 1, 5, 15-minute load averages before and after: others' work on the machine skews the numbers. */
  loadavg: { before: number[]; after: number[] };
  /** The contender the × column compares with. */
  baseline: ContenderName;
  /** How the README names the machine (`--machine`), e.g. "2-core VM". */
  machineLabel?: string;
}

/** Installed versions of the bench's peer packages (read from their package.json; absent when not installed). */
function peerVersions(names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    if (existsSync(file)) out[name] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return out;
}

export async function writeJson(outDir: string, info: RunInfo, rows: RowResult[]): Promise<string> {
  const require = createRequire(import.meta.url);
  const gpuqueuePackage = require.resolve('gpuqueue/package.json');
  const cpus = os.cpus();
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-');
  const record = {
    date: info.startedAt.toISOString(),
    engine: info.engine,
    quick: info.quick,
    machine: {
      ...(info.machineLabel ? { label: info.machineLabel } : {}),
      hostname: os.hostname(),
      cpuModel: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      availableParallelism: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    },
    loadavg: info.loadavg,
    node: process.version,
    versions: {
      gpuqueue: (require(gpuqueuePackage) as { version: string }).version,
      piscina: piscinaVersion,
      ...peerVersions(['bullmq', 'ioredis']),
    },
    baseline: info.baseline,
    git: gitState(realpathSync(dirname(gpuqueuePackage))),
    method: {
      batchesInFlight: BATCHES_IN_FLIGHT,
      rate: `median over ${info.plan.repeats} run(s) of a case, each in a fresh process (runsMsgPerSec lists them)`,
      latency:
        'per message, from the moment its batch is handed to the contender until its result is in hand (batched peers: when the batch returns); round trips: one message at a time',
      handler: 'FNV-1a 32-bit (gpuqueue: checksum, wrapped in fault when failures > 0; peers: the same fnv1a imported from gpuqueue)',
      plan: info.plan,
    },
    results: rows,
  };
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${info.startedAt.toISOString().slice(0, 10)}-${info.engine}-${host}${info.quick ? '-quick' : ''}.json`);
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}
