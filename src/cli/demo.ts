// `gpuqueue demo`: the README's main job. A UC-1 telemetry workload (synthetic sensor records keyed by
// device) runs through the queue for a few seconds with the checksum handler wrapped in fault injection;
// a producer (enqueueBatch) and a consumer (pollCompletions) run side by side, every result is checked
// against FNV-1a, and a summary table ends it. Exit code 1 when anything was wrong, missing or reordered.
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import { open } from '../index.js';
import { showProgress } from './progress.js';
import { ResultLedger } from './result-ledger.js';
import { RECORD_HEADER_BYTES, TelemetrySource } from './telemetry.js';

export interface DemoOptions {
  seconds: number;
  engine: 'auto' | 'cpu';
  payloadBytes: number;
  failRate: number;
}

/** Records per enqueueBatch call, and the queue's capacity: a few batches in flight at once. */
const BATCH = 512;
const CAPACITY = 8192;
const DEVICES = 512;
const POLL_MAX = 16_384;
/** After producing stops, how long the consumer waits for the last completions before counting the rest as lost. */
const DRAIN_TIMEOUT_MS = 30_000;
/** The fault handler fails a chosen message on every attempt, so it ends as a dead letter after the retries. */
const FAULT = { failAttempts: Number.POSITIVE_INFINITY, seed: 0 };

function numberIn(name: string, min: number, max: number, integer: boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run a UC-1 telemetry workload through the queue for a few seconds, check every result, print a summary')
    .addOption(new Option('--seconds <n>', 'how long to produce').default(5).argParser(numberIn('--seconds', 0.1, 3600, false)))
    .addOption(new Option('--engine <engine>', 'engine that consumes the queue').choices(['auto', 'cpu']).default('auto'))
    .addOption(
      new Option('--payload-bytes <n>', 'bytes per sensor record')
        .default(512)
        .argParser(numberIn('--payload-bytes', RECORD_HEADER_BYTES, 1 << 20, true)),
    )
    .addOption(
      new Option('--fail-rate <r>', 'share of messages the handler fails (retried, then dead-lettered)')
        .default(0.01)
        .argParser(numberIn('--fail-rate', 0, 1, false)),
    )
    .action(async (options: DemoOptions) => {
      process.exitCode = await runDemo(options);
    });
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const { seconds, engine, payloadBytes, failRate } = options;
  const q = await open({
    backend: engine,
    capacity: CAPACITY,
    slotBytes: payloadBytes,
    handler: { name: 'fault', inner: 'checksum', failRate, ...FAULT },
  });
  const source = new TelemetrySource(payloadBytes, BATCH, DEVICES);
  const ledger = new ResultLedger(DEVICES, { failRate, ...FAULT });
  console.log(
    `gpuqueue demo: ${seconds} s of sensor telemetry (${payloadBytes}-byte records from ${DEVICES} devices, keyed by device) ` +
      `on the ${q.stats().engine} engine, checksum handler with ${failRate * 100} % injected failures`,
  );

  let producing = true;
  const interrupt = () => {
    producing = false;
  };
  process.once('SIGINT', interrupt);
  const started = performance.now();
  let finishedMs = started;
  const produce = async (): Promise<void> => {
    try {
      while (producing && performance.now() - started < seconds * 1000) {
        const batch = source.next();
        const ids = await q.enqueueBatch(batch.payloads, { keys: batch.keys });
        ledger.register(ids, batch);
      }
    } finally {
      producing = false;
    }
  };

  const consume = async (): Promise<void> => {
    let drainDeadline = Number.POSITIVE_INFINITY;
    while (producing || ledger.outstanding > 0) {
      const got = q.pollCompletions(POLL_MAX);
      let dead = false;
      for (const c of got) {
        ledger.settle(c);
        if (c.status === 'dead-letter') dead = true;
      }
      if (dead) ledger.checkDeadLetters(q.deadLetters());
      if (got.length > 0) finishedMs = performance.now();
      if (!producing && drainDeadline === Number.POSITIVE_INFINITY) drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
      if (performance.now() > drainDeadline) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    ledger.checkDeadLetters(q.deadLetters());
  };

  const progress = showProgress('demo', seconds, () => ({
    done: ledger.completed,
    depth: q.stats().depth,
    deadLetters: ledger.deadLetters,
  }));
  let failure: unknown;
  try {
    await Promise.all([produce(), consume()]);
  } catch (error) {
    failure = error;
  } finally {
    progress.stop();
    process.removeListener('SIGINT', interrupt);
  }
  ledger.finish();
  const stats = q.stats();
  const report = await q.shutdown();
  if (failure) throw failure;

  // Anything not read back is lost, including what the shutdown report lists as undelivered.
  const lost = Math.max(ledger.outstanding, report.undelivered.length);
  const elapsedS = (finishedMs - started) / 1000;
  const table = new Table({ style: { head: [], border: [] } });
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  table.push(
    { engine: `${stats.engine} (${stats.engineDetail})` },
    { messages: n(ledger.completed) },
    { 'throughput msg/s': n(ledger.completed / elapsedS) },
    { 'latency p50 µs': n(stats.latency.p50Us) },
    { 'latency p95 µs': n(stats.latency.p95Us) },
    { 'latency p99 µs': n(stats.latency.p99Us) },
    { retries: n(stats.retries) },
    { 'dead letters': n(stats.deadLettered) },
    { 'max depth': `${n(stats.maxDepth)} of ${n(stats.capacity)}` },
    { mismatches: n(ledger.mismatches) },
    { 'out of order': n(ledger.outOfOrder) },
    { lost: n(lost) },
  );
  console.log(table.toString());
  const ok = ledger.mismatches === 0 && ledger.outOfOrder === 0 && lost === 0;
  console.log(
    ok ? 'every result checked: none wrong, none lost, per-device order kept' : 'FAILED: some results were wrong, missing or out of order',
  );
  return ok ? 0 : 1;
}
