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
import type { CaseSpec, ContenderName } from './contender.js';
import type { GpuMatrixPlan } from './gpu-matrix.js';
import type { MatrixPlan } from './matrix.js';
import { BATCHES_IN_FLIGHT } from './runner.js';
import type { CaseSummary } from './summary.js';

export interface RowResult extends CaseSummary {
  mbPerSec: number;
  /** Payload bytes per second, in GB/s (1e9). */
  gbPerSec: number;
  /** The engine's comparison (Comparison): a ratio of msg/s with the reference's at the same point, or null. */
  ratio: number | null;
}

/** What the table's × column compares each row with (one per engine: engine-plans.ts). */
export interface Comparison {
  /** The column's head. */
  column: string;
  /** Printed under the table and kept in the JSON: what the number means. */
  legend: string;
  /** The reference rows; at each point (mode, payload, batch) the best of them is taken. */
  isReference(spec: CaseSpec): boolean;
  /** `row/ref`: this row's msg/s over the reference's; `ref/row`: the reference's over this row's. */
  ratio: 'row/ref' | 'ref/row';
}

const LABELS: Record<ContenderName, string> = {
  gpuqueue: 'gpuqueue',
  'piscina-task': 'Piscina, task per message',
  'piscina-batched': 'Piscina, packed batch',
  'plain-loop': 'plain loop, 1 thread',
  'cuda-launch': 'launch per batch (by hand)',
  'cuda-graph': 'CUDA Graph per batch (by hand)',
  'gpuqueue-redis': 'gpuqueue (redis)',
  bullmq: 'BullMQ',
  'redis-streams': 'Streams loop, by hand',
};

/** The contender as the table names it: gpuqueue with its engine when the case names one. */
export function labelOf(spec: CaseSpec): string {
  const engine = spec.contender === 'gpuqueue' && spec.backend !== undefined ? `gpuqueue ${spec.backend}` : LABELS[spec.contender];
  const bulk = spec.completions === 'bulk' ? `${engine}, bulk completions` : engine;
  const base = spec.batchesInFlight !== undefined && spec.mode === 'throughput' ? `${bulk}, ${spec.batchesInFlight} in flight` : bulk;
  return spec.mode === 'round-trip' ? `${base}, round trip` : base;
}

export function withComparisons(results: CaseSummary[], comparison: Comparison): RowResult[] {
  const best = new Map<string, number>();
  const at = (r: CaseSummary) => `${r.spec.mode}/${r.spec.payloadBytes}/${r.spec.batch}`;
  for (const r of results) {
    if (comparison.isReference(r.spec) && r.msgPerSec > (best.get(at(r)) ?? 0)) best.set(at(r), r.msgPerSec);
  }
  return results.map((r) => {
    const ref = best.get(at(r));
    const ratio = ref && r.msgPerSec > 0 ? (comparison.ratio === 'row/ref' ? r.msgPerSec / ref : ref / r.msgPerSec) : null;
    const bytesPerSec = r.msgPerSec * r.spec.payloadBytes;
    return {
      ...r,
      mbPerSec: Math.round(bytesPerSec / 1e4) / 100,
      gbPerSec: Math.round(bytesPerSec / 1e6) / 1000,
      ratio: ratio === null ? null : Math.round(ratio * 100) / 100,
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

interface Column {
  head: string;
  align: 'left' | 'right';
  cell(r: RowResult): string;
}

export function renderTable(rows: RowResult[], comparison: Comparison): string {
  const isQueue = (r: RowResult) => r.spec.contender.startsWith('gpuqueue') && r.spec.mode === 'throughput';
  // Columns only where some row has something to say in them.
  const repeated = rows.some((r) => r.runsMsgPerSec.length > 1);
  const producers = rows.some((r) => r.spec.producers !== undefined);
  const failures = rows.some((r) => r.spec.failRate > 0);
  const columns: (Column | false)[] = [
    { head: 'contender', align: 'left', cell: (r) => labelOf(r.spec) },
    producers && {
      head: 'producer threads',
      align: 'right',
      cell: (r) =>
        r.spec.producers === undefined || r.spec.mode === 'round-trip' ? '—' : r.spec.producers === 0 ? 'owner' : String(r.spec.producers),
    },
    { head: 'payload', align: 'right', cell: (r) => bytes(r.spec.payloadBytes) },
    { head: 'batch', align: 'right', cell: (r) => (r.spec.mode === 'round-trip' ? '1' : int(r.spec.batch)) },
    failures && { head: 'failures', align: 'right', cell: (r) => (isQueue(r) ? `${Math.round(r.spec.failRate * 100)} %` : 'n/a') },
    { head: 'msg/s', align: 'right', cell: (r) => int(r.msgPerSec) },
    repeated && { head: 'runs: min–max', align: 'right', cell: (r) => spread(r.runsMsgPerSec) },
    { head: 'GB/s', align: 'right', cell: (r) => r.gbPerSec.toFixed(3) },
    { head: 'batch p50 µs', align: 'right', cell: (r) => micros(r.batchLatencyUs.p50) },
    { head: 'batch p99 µs', align: 'right', cell: (r) => micros(r.batchLatencyUs.p99) },
    { head: 'msg p50 µs', align: 'right', cell: (r) => micros(r.latencyUs.p50) },
    { head: 'msg p99 µs', align: 'right', cell: (r) => micros(r.latencyUs.p99) },
    { head: comparison.column, align: 'right', cell: (r) => (r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`) },
    failures && { head: 'retries', align: 'right', cell: (r) => (isQueue(r) ? int(r.retries) : 'n/a') },
    failures && { head: 'dead letters', align: 'right', cell: (r) => (isQueue(r) ? int(r.deadLetters) : 'n/a') },
    { head: 'check', align: 'left', cell: check },
  ];
  const shown = columns.filter((c): c is Column => c !== false);
  const table = new Table({
    head: shown.map((c) => c.head),
    colAligns: shown.map((c) => c.align),
    style: { head: [], border: [] },
    // No rule between rows: 100 rows stay readable on one screen's width and in CI logs.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const r of rows) table.push(shown.map((c) => c.cell(r)));
  return `${table.toString()}\n${comparison.legend}\nbatch latency: hand-over until the batch's last result is in hand and checked; msg: per message (batched peers: the batch's)`;
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

/**
 * A package's version as `fromPackageJson`'s folder resolves it, or null when it is not installed. Found
 * by walking up from its entry point: an `exports` map may hide `<name>/package.json` (koffi's does).
 */
function optionalVersion(fromPackageJson: string, name: string): string | null {
  const require = createRequire(fromPackageJson);
  let dir: string;
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    // not installed, or not exported: try its entry point
  }
  try {
    dir = dirname(require.resolve(name));
  } catch {
    return null;
  }
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version ?? null;
    } catch {
      // no package.json at this level: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

export interface RunInfo {
  engine: string;
  quick: boolean;
  plan: MatrixPlan | GpuMatrixPlan;
  comparison: Comparison;
  /** Cases not run, grouped, each with why. */
  skipped: { what: string; cases: number; reason: string }[];
  /** The GPUs the run saw (gpuqueue's diagnoseEngines), for GPU runs. */
  devices?: Record<string, unknown>;

  startedAt: Date;
  /** 1, 5, 15-minute load averages before and after: others' work on the machine skews the numbers. */
  loadavg: { before: number[]; after: number[] };
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
    ...(info.devices ? { devices: info.devices } : {}),
    node: process.version,
    versions: {
      gpuqueue: (require(gpuqueuePackage) as { version: string }).version,
      piscina: piscinaVersion,
      // gpuqueue's optional dependencies, as gpuqueue resolves them: the CUDA binding and Dawn.
      koffi: optionalVersion(gpuqueuePackage, 'koffi'),
      webgpu: optionalVersion(gpuqueuePackage, 'webgpu'),
      ...peerVersions(['bullmq', 'ioredis']),
    },
    git: gitState(realpathSync(dirname(gpuqueuePackage))),
    method: {
      batchesInFlight: BATCHES_IN_FLIGHT,
      rate: `median over ${info.plan.repeats} run(s) of a case, each in a fresh process (runsMsgPerSec lists them)`,
      latency:
        'per message, from the moment its batch is handed to the contender until its result is in hand (batched peers: when the batch returns); round trips: one message at a time',
      batchLatency: "per batch, from hand-over until the batch's last result is in hand and checked (round trips: per message)",
      gbPerSec: 'payload bytes per second / 1e9',
      handler:
        'FNV-1a 32-bit (gpuqueue: checksum, wrapped in fault when failures > 0; CUDA baselines: the same device process_message of checksum.cu; peers: the same fnv1a imported from gpuqueue)',
      comparison: { column: info.comparison.column, legend: info.comparison.legend, ratio: info.comparison.ratio },
      plan: info.plan,
    },
    skipped: info.skipped,
    results: rows,
  };
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${info.startedAt.toISOString().slice(0, 10)}-${info.engine}-${host}${info.quick ? '-quick' : ''}.json`);
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}
