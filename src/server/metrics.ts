// Prometheus metrics (prom-client), one registry per server, labelled by queue and engine. Counters and
// gauges are brought up to date from each queue's stats() when /metrics is scraped; the latency histogram
// is recorded by the server as completions arrive (accepted → completed, as the client sees it).
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { QueueStats } from '../index.js';

const LABELS = ['queue', 'engine'] as const;
type Labels = Record<(typeof LABELS)[number], string>;

/** Counters that mirror cumulative QueueStats fields. */
const FROM_STATS = {
  enqueued: ['gpuqueue_messages_enqueued_total', 'Messages accepted into the queue.'],
  completed: ['gpuqueue_messages_completed_total', 'Messages that left the queue with a result.'],
  retries: ['gpuqueue_messages_retried_total', 'Handler runs beyond the first (retries), over all messages.'],
  deadLettered: ['gpuqueue_messages_dead_lettered_total', 'Messages that left the queue as dead letters.'],
  droppedFull: ['gpuqueue_enqueue_rejected_full_total', 'Enqueues refused because the queue was full.'],
} as const satisfies Partial<Record<keyof QueueStats, readonly [string, string]>>;
type StatsCounter = keyof typeof FROM_STATS;

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly counters: Record<StatsCounter, Counter>;
  private readonly seen = new Map<string, Record<StatsCounter, number>>();
  private readonly depth: Gauge;
  private readonly inFlight: Gauge;
  private readonly capacity: Gauge;
  private readonly retained: Gauge;
  private readonly ready: Gauge;
  private readonly heartbeatAge: Gauge;
  readonly resultsEvicted: Counter;
  readonly latency: LatencyHistogram;
  readonly httpRejected: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const counter = (name: string, help: string, labelNames: readonly string[] = LABELS) =>
      new Counter({ name, help, labelNames, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: LABELS, registers });
    this.counters = Object.fromEntries(Object.entries(FROM_STATS).map(([key, [name, help]]) => [key, counter(name, help)])) as Record<
      StatsCounter,
      Counter
    >;
    this.resultsEvicted = counter('gpuqueue_results_evicted_total', 'Unread results forgotten (whenResultsFull: evict-oldest).');
    this.httpRejected = counter('gpuqueue_http_rejected_total', 'HTTP/WebSocket requests answered with an error, by code.', [
      'queue',
      'code',
    ]);
    this.depth = gauge('gpuqueue_queue_depth', 'Messages in the ring: queued, in flight, or done and not yet harvested.');
    this.inFlight = gauge('gpuqueue_messages_in_flight', 'Messages accepted by the server and not yet completed.');
    this.capacity = gauge('gpuqueue_queue_capacity', 'Slots of the ring.');
    this.retained = gauge('gpuqueue_results_retained', 'Completions kept for GET …/results/:id.');
    this.ready = gauge('gpuqueue_engine_ready', '1 while the engine is ready (or paused), 0 when draining, shut down or failed.');
    this.heartbeatAge = gauge(
      'gpuqueue_gpu_heartbeat_age_seconds',
      'Since the GPU consumers last proved progress (the cuda kernel heartbeat); only for engines with one.',
    );
    this.latency = new LatencyHistogram(
      'gpuqueue_message_latency_seconds',
      'Accepted → completed, per message, as seen by the server.',
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.registry.registerMetric(this.latency as unknown as Metric);
  }

  /** Brings counters and gauges up to date with a queue's stats (called on every scrape). */
  update(queue: string, stats: QueueStats, inFlight: number, retained: number): void {
    const labels: Labels = { queue, engine: stats.engine };
    const seen = this.seen.get(queue) ?? { enqueued: 0, completed: 0, retries: 0, deadLettered: 0, droppedFull: 0 };
    for (const key of Object.keys(FROM_STATS) as StatsCounter[]) {
      const delta = stats[key] - seen[key];
      if (delta > 0) {
        this.counters[key].inc(labels, delta);
        seen[key] = stats[key];
      } else {
        // Create the series at 0 so dashboards see it before the first event.
        this.counters[key].inc(labels, 0);
      }
    }
    this.seen.set(queue, seen);
    this.depth.set(labels, stats.depth);
    this.inFlight.set(labels, inFlight);
    this.capacity.set(labels, stats.capacity);
    this.retained.set(labels, retained);
    this.ready.set(labels, stats.state === 'ready' || stats.state === 'paused' ? 1 : 0);
    if (stats.heartbeatAgeMs !== undefined) this.heartbeatAge.set(labels, stats.heartbeatAgeMs / 1000);
  }
}

/** One label set of a LatencyHistogram: counts per bucket (not cumulative), their sum and count. */
export class LatencySeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records `count` messages that each took `seconds`. */
  record(seconds: number, count = 1): void {
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && seconds > (bounds[b] as number)) b++;
    this.counts[b] = (this.counts[b] as number) + count;
    this.sum += seconds * count;
    this.count += count;
  }
}

/**
 * A Prometheus histogram registered in prom-client's registry, which formats it like its own. Written
 * here because prom-client's Histogram has no weighted observe and validates and hashes the labels on
 * every observe (about 0.3 µs): at a million messages a second that alone would take a third of a core.
 * The server records one (latency, count) pair per batch per harvest pass instead (`LatencySeries`).
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, { labels: Labels; series: LatencySeries }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  /** The series of one queue and engine (kept: callers hold it and record into it). */
  series(labels: Labels): LatencySeries {
    const key = `${labels.queue}\u0000${labels.engine}`;
    let entry = this.all.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, series: new LatencySeries(this.buckets) };
      this.all.set(key, entry);
    }
    return entry.series;
  }

  /** What prom-client's registry reads (the shape its own Histogram returns). */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: unknown[] }> {
    const values: unknown[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, series } of this.all.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += series.counts[i] as number;
        values.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: series.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
