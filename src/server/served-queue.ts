// One named queue behind the server. It is the only reader of the queue's completions: each one goes to
// the WebSocket that enqueued it, else into the results kept for GET …/results/:id, and always onto the
// event log that Server-Sent Events replay. It also times messages (accepted → completed) for metrics,
// traces and the dashboard's windowed percentiles.
import type { Span } from '@opentelemetry/api';
import * as hdr from 'hdr-histogram-js';
import {
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
import type { ServerMetrics } from './metrics.js';
import { endSpan, startProcessSpan } from './tracing.js';

/** Where a WebSocket wants its completions; `false` when it is gone (the completion is then kept). */
export type CompletionSink = (c: Completion) => boolean;

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
  private readonly pending = new Map<number, Pending>();
  private readonly results = new Map<number, Completion>();
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
    return this.pending.size;
  }

  get retained(): number {
    return this.results.size;
  }

  // ---- enqueue ----

  /** `timeoutMs` 0: fail at once with FULL; otherwise wait up to that long for space. */
  async enqueue(payload: Uint8Array, key: MessageKey | undefined, timeoutMs: number, span: Span, sink?: CompletionSink): Promise<number> {
    const options = key === undefined ? {} : { key };
    const id = timeoutMs === 0 ? this.queue.tryEnqueue(payload, options) : await this.queue.enqueue(payload, { ...options, timeoutMs });
    this.accepted(id, span, sink);
    return id;
  }

  async enqueueBatch(payloads: Uint8Array[], keys: MessageKey[] | undefined, timeoutMs: number, span: Span): Promise<number[]> {
    try {
      const ids = await this.queue.enqueueBatch(payloads, { timeoutMs, ...(keys ? { keys } : {}) });
      for (const id of ids) this.accepted(id, span, undefined);
      return ids;
    } catch (error) {
      // A batch that ran out of time part way: those that got in are accepted and will complete.
      for (const id of (error as { enqueuedIds?: number[] }).enqueuedIds ?? []) this.accepted(id, span, undefined);
      throw error;
    }
  }

  private accepted(id: number, span: Span, sink: CompletionSink | undefined): void {
    // A message of a batch that waited for space can complete before the batch call returns.
    if (this.completedEarly.delete(id)) {
      const c = sink ? this.results.get(id) : undefined;
      if (c && sink?.(c)) this.take(id);
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
    if (!this.pending.has(id))
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

  private take(id: number): Completion | undefined {
    const c = this.results.get(id);
    if (!c) return undefined;
    this.results.delete(id);
    this.spaceWaiters.shift()?.();
    return c;
  }

  // ---- completions ----

  private async pump(): Promise<void> {
    for await (const c of this.queue.completions({ batch: 512 })) {
      this.deliver(c);
      while (!this.evict && !this.draining && this.results.size >= this.retainLimit) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      }
    }
  }

  private deliver(c: Completion): void {
    const p = this.pending.get(c.id);
    this.pending.delete(c.id);
    if (!p) this.completedEarly.add(c.id);
    else {
      const seconds = (performance.now() - p.acceptedAt) / 1000;
      this.latency ??= this.metrics.latency.labels({ queue: this.name, engine: this.engineName });
      this.latency.observe(seconds);
      this.window.recordValue(Math.max(1, Math.round(seconds * 1e6)));
      endSpan(p.span, undefined, { 'gpuqueue.status': c.status, 'gpuqueue.attempts': c.attempts });
    }
    this.events.append('completion', () => JSON.stringify(completionJson(c)));
    const waiting = this.waiters.get(c.id);
    if (waiting) {
      this.waiters.delete(c.id);
      for (const w of waiting) w.done(c);
      return;
    }
    if (p?.sink?.(c)) return;
    this.results.set(c.id, c);
    if (this.evict) {
      this.resultOrder.push(c.id);
      if (this.results.size > this.retainLimit || this.resultOrder.length > 2 * this.retainLimit + 1024) this.evictOldest();
    }
  }

  /**
   * Ids in arrival order, for evict-oldest. A Map's first key would do, but V8 keeps deleted entries as
   * holes until it rehashes, so finding the first live key after many deletes walks them all.
   */
  private resultOrder: number[] = [];
  private resultOrderHead = 0;

  private evictOldest(): void {
    while (this.results.size > this.retainLimit && this.resultOrderHead < this.resultOrder.length) {
      const id = this.resultOrder[this.resultOrderHead++] as number;
      if (this.results.delete(id)) this.metrics.resultsEvicted.inc({ queue: this.name, engine: this.engineName });
    }
    // Compact: drop what was evicted, and ids whose results were read meanwhile (amortized O(1)).
    if (this.resultOrder.length - this.resultOrderHead > 2 * this.retainLimit + 1024 || this.resultOrderHead > 4096) {
      this.resultOrder = this.resultOrder.slice(this.resultOrderHead).filter((id) => this.results.has(id));
      this.resultOrderHead = 0;
    }
  }

  private latency: { observe(seconds: number): void } | undefined;
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
    return { ...s, name: this.name, at: Date.now(), inFlight: this.pending.size, throughput, window };
  }

  private publishStats(): void {
    this.events.append('stats', JSON.stringify(this.statsEvent()));
  }

  /** Updates the metrics with this queue's stats (on scrape). */
  updateMetrics(): void {
    this.metrics.update(this.name, this.queue.stats(), this.pending.size, this.results.size);
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
    while (this.results.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const set of [...this.waiters.values()])
      for (const w of [...set]) w.stop(new ShutdownError(`queue ${this.name} shut down before this message completed`));
    return { unread: [...this.results.keys()], undelivered: report.undelivered.map((u) => u.id) };
  }

  /** Fails waits that can never be answered once the queue is gone. */
  assertOpen(): void {
    const state = this.queue.stats().state;
    if (state === 'draining' || state === 'shut-down') throw new ShutdownError(`queue ${this.name} is shutting down`);
  }
}
