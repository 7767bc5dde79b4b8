// Counters and the latency histogram the owner thread keeps while harvesting (hdr-histogram-js: a real
// HDR histogram, 3 significant digits, values in nanoseconds).
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  /** Messages measured. */
  count: number;
  p50Us: number;
  p95Us: number;
  p99Us: number;
  maxUs: number;
}

export interface QueueStats {
  engine: string;
  engineDetail: string;
  state: 'ready' | 'paused' | 'draining' | 'shut-down' | 'failed';
  /** Messages that entered the queue (from every producer thread). */
  enqueued: number;
  /** Messages that left with a result. */
  completed: number;
  deadLettered: number;
  /** Handler runs beyond the first, over all messages. */
  retries: number;
  /** Enqueues refused because the queue was full (tryEnqueue FULL, or a wait that timed out). */
  droppedFull: number;
  /** Messages in the ring now: queued, in flight, or done and not yet harvested. */
  depth: number;
  maxDepth: number;
  capacity: number;
  /** Harvested results not yet read. */
  retainedResults: number;
  /** Dead-letter records dropped, oldest first, because `deadLetters()` was not called while more than `maxRetainedResults` piled up (each was still delivered as a completion). */
  deadLetterRecordsDropped: number;
  /** Enqueue → harvest, over every message since open. */
  latency: LatencySummary;
  /** open() → consumers ready. */
  timeToReadyMs: number;
  /** GPU engines: ms since the consumers last proved progress (the cuda kernel's heartbeat). */
  heartbeatAgeMs?: number;
  /** Set when the engine failed. */
  fault?: string;
  /** Set when a GPU engine failed and `fallback: 'cpu'` took over its messages: which engine, and why. */
  fellBackFrom?: string;
}

export class StatsRecorder {
  completed = 0;
  deadLettered = 0;
  retries = 0;
  droppedFull = 0;
  maxDepth = 0;
  private readonly histogram = hdr.build({
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000_000,
  });

  // Messages of one batch share an enqueue time and are harvested in one pass, so equal latencies come in
  // runs: count a run and record it once (the histogram's per-value cost dominated the harvest otherwise).
  private runValueNs = -1;
  private runCount = 0;

  recordLatencyMs(ms: number): void {
    this.recordLatencyRunMs(ms, 1);
  }

  /** `count` messages that all took `ms` (a caller that already grouped equal latencies). */
  recordLatencyRunMs(ms: number, count: number): void {
    const ns = ms > 0 ? Math.round(ms * 1e6) : 0;
    if (ns === this.runValueNs) {
      this.runCount += count;
      return;
    }
    this.flushRun();
    this.runValueNs = ns;
    this.runCount = count;
  }

  private flushRun(): void {
    if (this.runCount > 0) this.histogram.recordValueWithCount(this.runValueNs, this.runCount);
    this.runCount = 0;
    this.runValueNs = -1;
  }

  sampleDepth(depth: number): void {
    if (depth > this.maxDepth) this.maxDepth = depth;
  }

  latency(): LatencySummary {
    this.flushRun();
    const h = this.histogram;
    const us = (ns: number) => Math.round(ns / 10) / 100;
    // A percentile is reported as its bucket's upper edge, which can pass the exact largest value: cap it.
    const max = h.maxValue;
    const at = (p: number) => us(Math.min(h.getValueAtPercentile(p), max));
    return { count: h.totalCount, p50Us: at(50), p95Us: at(95), p99Us: at(99), maxUs: us(max) };
  }
}
