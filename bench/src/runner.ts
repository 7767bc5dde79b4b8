// The forked side of a measurement: main.ts forks this file once per case, sends the CaseSpec over IPC,
// and gets a CaseResult back. Here the contender's module is loaded, set up, warmed up, measured (two
// batches in flight back to back, or one message at a time for round trips) and torn down, so no
// contender's JIT state, threads or garbage leak into another's numbers.
import * as hdr from 'hdr-histogram-js';
import { type Batch, type CaseSpec, type Contender, Probe } from './contender.js';
import { makeBatches } from './workload.js';

/** One process's measurement of one case. */
export interface RunResult {
  spec: CaseSpec;
  messages: number;
  seconds: number;
  msgPerSec: number;
  /** Latencies in ns, HDR-encoded (compressed base64), so runs of a case can be merged. */
  latencyHistogram: string;
  /** Per-batch latencies (round trips: per message), likewise. */
  batchLatencyHistogram: string;
  mismatches: number;
  deadLetters: number;
  expectedDeadLetters: number;
  retries: number;
  detail: Record<string, unknown>;
}

/** Batches handed over at once in throughput mode: one being worked on while the next is handed in (--in-flight: more). */
export const BATCHES_IN_FLIGHT = 2;

async function loadContender(name: string): Promise<Contender> {
  const m = (await import(`./contenders/${name}.js`)) as Partial<Contender>;
  for (const fn of ['setup', 'run', 'teardown'] as const) {
    if (typeof m[fn] !== 'function') throw new Error(`contenders/${name}.js must export ${fn}()`);
  }
  return m as Contender;
}

/** Runs batches back to back, `inFlight` at a time, starting none after `ms`; returns messages done. */
async function drive(contender: Contender, probe: Probe, batches: Batch[], ms: number, inFlight: number): Promise<number> {
  const end = performance.now() + ms;
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (performance.now() < end) {
      const batch = batches[next++ % batches.length] as Batch;
      const started = performance.now();
      await contender.run(batch);
      probe.recordBatchNs((performance.now() - started) * 1e6);
      done += batch.payloads.length;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return done;
}

/** One message at a time, each timed here and checked; returns messages done. */
async function roundTrips(contender: Contender, probe: Probe, batch: Batch, ms: number): Promise<number> {
  const roundTrip = contender.roundTrip;
  if (!roundTrip) throw new Error('this contender exports no roundTrip()');
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    const i = n++ % batch.payloads.length;
    const started = performance.now();
    const sum = await roundTrip(batch.payloads[i] as Uint8Array);
    const ns = (performance.now() - started) * 1e6;
    probe.recordNs(ns);
    probe.recordBatchNs(ns);
    if (sum !== batch.expected[i]) probe.mismatches++;
  }
  return n;
}

export async function measure(spec: CaseSpec): Promise<RunResult> {
  const contender = await loadContender(spec.contender);
  const batches = makeBatches(spec.payloadBytes, spec.mode === 'round-trip' ? 1024 : spec.batch);
  const probe = new Probe();
  await contender.setup(spec, probe, batches);
  const work = (ms: number) =>
    spec.mode === 'round-trip'
      ? roundTrips(contender, probe, batches[0] as Batch, ms)
      : drive(contender, probe, batches, ms, spec.batchesInFlight ?? BATCHES_IN_FLIGHT);
  await work(spec.warmupMs);
  probe.reset();
  const started = performance.now();
  const messages = await work(spec.durationMs);
  const seconds = (performance.now() - started) / 1000;
  const detail = await contender.teardown();
  return {
    spec,
    messages,
    seconds: Math.round(seconds * 1e4) / 1e4,
    msgPerSec: Math.round(messages / seconds),
    latencyHistogram: hdr.encodeIntoCompressedBase64(probe.latencyNs),
    batchLatencyHistogram: hdr.encodeIntoCompressedBase64(probe.batchLatencyNs),
    mismatches: probe.mismatches,
    deadLetters: probe.deadLetters,
    expectedDeadLetters: probe.expectedDeadLetters,
    retries: probe.retries,
    detail,
  };
}

// Forked: wait for the spec, answer with the result (or the error), then let the process end.
if (process.send) {
  process.once('message', (spec: CaseSpec) => {
    measure(spec).then(
      (result) => process.send?.({ ok: true, result }, () => process.disconnect()),
      (error: Error) => process.send?.({ ok: false, error: String(error?.stack ?? error) }, () => process.disconnect()),
    );
  });
}
