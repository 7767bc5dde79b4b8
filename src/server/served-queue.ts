// One named queue behind the server. It is the only reader of the queue's completions: each one goes to
// the WebSocket that enqueued it, else into the results kept for GET …/results/:id, and always onto the
// event log that Server-Sent Events replay. It also times messages (accepted → completed) for metrics,
// traces and the dashboard's windowed percentiles.
import type { Span } from '@opentelemetry/api';
import * as hdr from 'hdr-histogram-js';
import { batchCount } from '../core/batch-payloads.js';
import {
  type BatchPayloads,
  type Completion,
  DEFAULT_OPTIONS,
  type MessageKey,
  NotFoundError,
  NotReadyError,
  open,
  type Queue,
  type QueueStats,
  ShutdownError,
} from '../index.js';
import type { ServedQueueOptions } from './config.js';
import { EventLog } from './event-log.js';
import type { LatencySeries, ServerMetrics } from './metrics.js';
import { type CompletionSink, type PendingBatch, PendingBatches } from './pending-batches.js';
import { ResultStore } from './result-store.js';
import { endSpan, startProcessSpan } from './tracing.js';

/** Completions taken from the queue per pump pass, at most. */
const PUMP_BATCH = 8192;

export type { CompletionSink } from './pending-batches.js';

interface Waiter {
  done(c: Completion): void;
  stop(error: Error): void;
}

interface Pending {
  acceptedAt: number;
  span: Span | undefined;
  sink: CompletionSink | undefined;
}

export interface CompletionJson {
  id: number;
  status: Completion['status'];
  /** The result, base64. */
  data: string;
  attempts: number;
  handlerStatus: number;
  reason?: string;
}

const completionText = (c: Completion): string => JSON.stringify(completionJson(c));

export function completionJson(c: Completion): CompletionJson {
  return {
    id: c.id,
    status: c.status,
    data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).toString('base64'),
    attempts: c.attempts,
    handlerStatus: c.handlerStatus,
    ...(c.reason === undefined ? {} : { reason: c.reason }),
  };
}

/** What a stats event carries: the queue's stats plus the server's view of the last interval. */
export interface StatsEvent extends QueueStats {
  name: string;
  at: number;
  inFlight: number;
  /** Completions (results and dead letters) per second over the last interval. */
  throughput: number;
  /** Accepted → completed over the last interval, µs. */
  window: { count: number; p50Us: number; p90Us: number; p99Us: number; maxUs: number };
}

export class ServedQueue {
  readonly events: EventLog;
  /** Messages accepted one by one (or traced): one entry each. */
  private readonly pending = new Map<number, Pending>();
  /** Untraced batches: one record per batch. */
  private readonly batches = new PendingBatches();
  /** Unread results, oldest first, in columns rather than an object each (result-store.ts says why). */
  private readonly results = new ResultStore();
  private readonly waiters = new Map<number, Set<Waiter>>();
  private readonly spaceWaiters: (() => void)[] = [];
  private readonly retainLimit: number;
  private readonly evict: boolean;
  readonly maxBatch: number;
  private readonly window = hdr.build({
    numberOfSignificantValueDigits: 2,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
  });
  private lastTick = { at: performance.now(), done: 0 };
  private ticker: NodeJS.Timeout | undefined;
  private pumping: Promise<void> = Promise.resolve();
  private draining = false;

  private constructor(
    readonly name: string,
    readonly queue: Queue,
    options: ServedQueueOptions,
    private readonly metrics: ServerMetrics,
    eventLogSize: number,
  ) {
    this.events = new EventLog(eventLogSize);
    this.retainLimit = options.retainResults ?? 16 * queue.config.capacity;
    this.evict = options.whenResultsFull === 'evict-oldest';
    this.maxBatch = options.maxBatch ?? queue.config.capacity;
  }

  static async open(name: string, options: ServedQueueOptions, metrics: ServerMetrics, eventLogSize: number, statsIntervalMs: number) {
    const { whenResultsFull: _w, retainResults: _r, maxBatch: _m, ...queueOptions } = options;
    // The server takes completions from the queue as they come and keeps its own `retainResults`; the
    // queue's own store need only hold what arrives between two pump passes.
    const capacity = queueOptions.capacity ?? DEFAULT_OPTIONS.capacity;
    const queue = await open({ maxRetainedResults: capacity, ...queueOptions });
    const served = new ServedQueue(name, queue, options, metrics, eventLogSize);
    served.pumping = served.pump();
    served.ticker = setInterval(() => served.publishStats(), statsIntervalMs);
    served.ticker.unref();
    return served;
  }

  get slotBytes(): number {
    return this.queue.config.slotBytes;
  }

  get inFlight(): number {
    return this.pending.size + this.batches.messages;
  }

  get retained(): number {
    return this.results.retained;
  }

  // ---- enqueue ----

  /**
   * One message that must get in now or fail with FULL, enqueued with the others that arrived in the same
   * event-loop turn. Each request is handled between two of them, so enqueued one by one each would find
   * the consumer thread asleep and pay a cross-thread wake-up (a futex syscall, several µs: on a small
   * machine the largest cost of a single-message POST); written back to back, one wake-up serves the
   * lot. Costs one loop turn of latency; the outcome of each message is the same as `tryEnqueue`'s.
   */
  enqueueThisTurn(payload: Uint8Array, key: MessageKey | undefined, span: Span): Promise<number> {
    return new Promise((resolve, reject) => {
      this.thisTurn.push({ payload, key, span, resolve, reject });
      if (this.thisTurn.length === 1) setImmediate(this.flushThisTurn);
    });
  }

  private thisTurn: {
    payload: Uint8Array;
    key: MessageKey | undefined;
    span: Span;
    resolve(id: number): void;
    reject(e: unknown): void;
  }[] = [];

  private readonly flushThisTurn = (): void => {
    const list = this.thisTurn;
    this.thisTurn = [];
    for (const m of list) {
      try {
        const id = this.queue.tryEnqueue(m.payload, m.key === undefined ? {} : { key: m.key });
        this.accepted(id, m.span, undefined);
        m.resolve(id);
      } catch (error) {
        m.reject(error);
      }
    }
  };

  /** `timeoutMs` 0: fail at once with FULL; otherwise wait up to that long for space. */
  async enqueue(payload: Uint8Array, key: MessageKey | undefined, timeoutMs: number, span: Span, sink?: CompletionSink): Promise<number> {
    const options = key === undefined ? {} : { key };
    const id = timeoutMs === 0 ? this.queue.tryEnqueue(payload, options) : await this.queue.enqueue(payload, { ...options, timeoutMs });
    this.accepted(id, span, sink);
    return id;
  }

  async enqueueBatch(
    payloads: BatchPayloads,
    keys: MessageKey[] | undefined,
    timeoutMs: number,
    span: Span,
    sink?: CompletionSink,
  ): Promise<number[]> {
    // A traced batch gets a process span per message. Otherwise one record stands for the batch, made
    // when its (consecutive) ids are taken, so completions that come while the batch still waits for
    // space find it.
    const traced = span.isRecording();
    let batch: PendingBatch | undefined;
    const onIds = traced
      ? undefined
      : (first: number) => {
          batch = this.batches.add(first, batchCount(payloads), performance.now(), sink);
        };
    try {
      const ids = await this.queue.enqueueBatch(payloads, { timeoutMs, ...(keys ? { keys } : {}), ...(onIds ? { onIds } : {}) });
      if (traced) for (const id of ids) this.accepted(id, span, sink);
      return ids;
    } catch (error) {
      // A batch that ran out of time part way: those that got in are accepted and will complete; the
      // others were never in the queue.
      const enqueued = (error as { enqueuedIds?: number[] }).enqueuedIds ?? [];
      if (batch) {
        const got = new Set(enqueued);
        for (let id = batch.first; id < batch.first + batch.count; id++) if (!got.has(id)) this.batches.complete(batch, id);
      } else for (const id of enqueued) this.accepted(id, span, sink);
      throw error;
    }
  }

  private accepted(id: number, span: Span, sink: CompletionSink | undefined): void {
    // A message of a batch that waited for space can complete before the batch call returns.
    if (this.completedEarly.delete(id)) {
      const c = sink ? this.take(id) : undefined;
      if (c && !sink?.(c)) this.results.add(c);
      return;
    }
    this.pending.set(id, { acceptedAt: performance.now(), span: startProcessSpan(span, this.name, id), sink });
  }

  /** Ids whose completion arrived before enqueue returned them. */
  private readonly completedEarly = new Set<number>();

  // ---- results ----

  /** Takes a message's completion, waiting up to `timeoutMs`; NotReadyError when it is still in the queue. */
  takeResult(id: number, timeoutMs: number, signal?: AbortSignal): Promise<Completion> {
    const kept = this.take(id);
    if (kept) return Promise.resolve(kept);
    if (!this.pending.has(id) && !this.batches.has(id))
      return Promise.reject(
        new NotFoundError(`message ${id} is not known to queue ${this.name}: never accepted here, or its result was already read`),
      );
    if (timeoutMs === 0) return Promise.reject(new NotReadyError(id));
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const waiter: Waiter = {
        done: (c) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(c);
        },
        stop: (error) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(id);
          reject(error);
        },
      };
      const onAbort = () => waiter.stop(new NotReadyError(id));
      const timer = setTimeout(() => waiter.stop(new NotReadyError(id)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
    });
  }

  /** Completions a WebSocket took but could not send (it closed first): kept for GET …/results/:id. */
  keep(cs: readonly Completion[]): void {
    for (const c of cs) this.results.add(c);
  }

  private take(id: number): Completion | undefined {
    const c = this.results.take(id);
    if (!c) return undefined;
    this.spaceWaiters.shift()?.();
    return c;
  }

  // ---- completions ----

  private async pump(): Promise<void> {
    // The iterator waits for the first completion; the rest of what is there is taken in one call and
    // handled as one pass (one clock read, one event-log notification, latency recorded per batch).
    for await (const first of this.queue.completions({ batch: 1 })) {
      const cs = this.queue.pollCompletions(PUMP_BATCH);
      cs.unshift(first);
      this.deliver(cs);
      while (!this.evict && !this.draining && this.results.retained >= this.retainLimit) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      }
    }
  }

  private deliver(cs: Completion[]): void {
    const now = performance.now();
    const latency = this.latencySeries();
    // Consecutive completions of one batch in one pass share their latency: recorded once, with a count.
    let run: PendingBatch | undefined;
    let runCount = 0;
    const endRun = () => {
      if (run === undefined) return;
      const seconds = (now - run.acceptedAt) / 1000;
      latency.record(seconds, runCount);
      this.window.recordValueWithCount(Math.max(1, Math.round(seconds * 1e6)), runCount);
    };
    for (const c of cs) {
      const id = c.id;
      let sink: CompletionSink | undefined;
      const p = this.pending.size > 0 ? this.pending.get(id) : undefined;
      if (p) {
        this.pending.delete(id);
        const seconds = (now - p.acceptedAt) / 1000;
        latency.record(seconds);
        this.window.recordValue(Math.max(1, Math.round(seconds * 1e6)));
        endSpan(p.span, undefined, { 'gpuqueue.status': c.status, 'gpuqueue.attempts': c.attempts });
        sink = p.sink;
      } else {
        const b = this.batches.find(id);
        if (b && this.batches.complete(b, id)) {
          if (b !== run) {
            endRun();
            run = b;
            runCount = 0;
          }
          runCount++;
          sink = b.sink;
        } else this.completedEarly.add(id);
      }
      if (this.waiters.size > 0) {
        const waiting = this.waiters.get(id);
        if (waiting) {
          this.waiters.delete(id);
          for (const w of waiting) w.done(c);
          continue;
        }
      }
      if (sink?.(c)) continue;
      this.results.add(c);
    }
    endRun();
    if (this.evict && this.results.retained > this.retainLimit) {
      const evicted = this.results.evictOldest(this.results.retained - this.retainLimit);
      this.metrics.resultsEvicted.inc({ queue: this.name, engine: this.engineName }, evicted);
    }
    this.events.appendMany('completion', cs, completionText);
  }

  private latency: LatencySeries | undefined;
  private latencySeries(): LatencySeries {
    this.latency ??= this.metrics.latency.series({ queue: this.name, engine: this.engineName });
    return this.latency;
  }
  private engineNameCache: string | undefined;
  get engineName(): string {
    this.engineNameCache ??= this.queue.stats().engine;
    return this.engineNameCache;
  }

  // ---- stats ----

  stats(): QueueStats {
    return this.queue.stats();
  }

  statsEvent(): StatsEvent {
    const s = this.queue.stats();
    const now = performance.now();
    const done = s.completed + s.deadLettered;
    const seconds = (now - this.lastTick.at) / 1000;
    const throughput = seconds > 0 ? Math.round((done - this.lastTick.done) / seconds) : 0;
    this.lastTick = { at: now, done };
    const h = this.window;
    const window = {
      count: h.totalCount,
      p50Us: h.totalCount ? h.getValueAtPercentile(50) : 0,
      p90Us: h.totalCount ? h.getValueAtPercentile(90) : 0,
      p99Us: h.totalCount ? h.getValueAtPercentile(99) : 0,
      maxUs: h.totalCount ? h.maxValue : 0,
    };
    h.reset();
    return { ...s, name: this.name, at: Date.now(), inFlight: this.inFlight, throughput, window };
  }

  private publishStats(): void {
    this.events.append('stats', JSON.stringify(this.statsEvent()));
  }

  /** Updates the metrics with this queue's stats (on scrape). */
  updateMetrics(): void {
    this.metrics.update(this.name, this.stats(), this.inFlight, this.results.retained);
  }

  // ---- shutdown ----

  /**
   * Refuses new messages, lets the engine finish what is in the ring, then waits (up to the deadline) for
   * clients to read the results still held. Returns what could not be handed over, for the log.
   */
  async drain(deadline: number): Promise<{ unread: number[]; undelivered: number[] }> {
    // While draining, the pump no longer waits for unread results to be taken: the ring must empty, and
    // what it still holds is bounded by its capacity.
    this.draining = true;
    for (const wake of this.spaceWaiters.splice(0)) wake();
    const report = await this.queue.shutdown({ timeoutMs: Math.max(0, deadline - Date.now()) });
    await this.pumping;
    if (this.ticker) clearInterval(this.ticker);
    this.publishStats();
    while (this.results.retained > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const set of [...this.waiters.values()])
      for (const w of [...set]) w.stop(new ShutdownError(`queue ${this.name} shut down before this message completed`));
    return { unread: this.results.unreadIds(), undelivered: report.undelivered.map((u) => u.id) };
  }

  /** Fails waits that can never be answered once the queue is gone. */
  assertOpen(): void {
    const state = this.queue.stats().state;
    if (state === 'draining' || state === 'shut-down') throw new ShutdownError(`queue ${this.name} is shutting down`);
  }
}
