// The public Queue, written once over the engine seam: it checks arguments and lifecycle state, produces
// into the shared ring, harvests completions and keeps results, dead letters and stats. Engines only
// consume the ring (engines/engine.ts).

import { type BatchPayloads, batchCount } from './core/batch-payloads.js';
import { BatchStatus, type Completion, type CompletionBatch, CompletionStore, type DeadLetter } from './core/completions.js';
import {
  AbortedError,
  describeValue,
  EngineFailedError,
  InvalidArgumentError,
  NotFoundError,
  NotReadyError,
  QueueFullError,
  ShutdownError,
  TimeoutError,
} from './core/errors.js';
import { ACTIVE_IDLE_MS, Harvester } from './core/harvester.js';
import { checkInteger, checkTimeout, LIMITS, type QueueConfig, type QueueOptions, resolveOptions } from './core/options.js';
import { validatePartitionerSpec } from './core/partitioners.js';
import { checkEnqueueOptionNames, type EnqueueBatchOptions, type EnqueueOptions, type MessageKey, Producer } from './core/producer.js';
import { Control, computeLayout, SlotState } from './core/slot-layout.js';
import { SlotRing } from './core/slot-ring.js';
import { type QueueStats, StatsRecorder } from './core/stats.js';
import type { Engine } from './engines/engine.js';
import { createFallbackEngine, type EnginePlan, planEngine } from './engines/select.js';
import type { HandlerSpec } from './handlers/handler.js';
import { handlerResultBytes, resolveHandler } from './handlers/registry.js';

export interface ResultOptions {
  /** **Default:** the queue's `resultTimeoutMs` */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ShutdownOptions {
  /** How long to wait for in-flight messages to finish. **Default:** `30000` */
  timeoutMs?: number;
}

export interface UndeliveredMessage {
  id: number;
  payload: Uint8Array;
  state: 'queued' | 'in-flight';
}

export interface ShutdownReport {
  /** Messages that completed while draining. */
  drained: number;
  /** Messages still in the ring when the drain timed out (empty after a full drain): nothing is dropped silently. */
  undelivered: UndeliveredMessage[];
  durationMs: number;
}

/** What a worker thread needs to enqueue into this queue (`attachProducer`). Structured-clonable. */
export interface ProducerHandle {
  sab: SharedArrayBuffer;
  partitioner: QueueConfig['partitioner'];
  enqueueTimeoutMs: number;
}

const SHUTDOWN_TIMEOUT_MS = 30_000;

export class Queue implements AsyncDisposable {
  readonly config: Readonly<QueueConfig>;
  readonly handler: HandlerSpec;
  private readonly ring: SlotRing;
  private engine: Engine;
  /** Set when a failed engine's messages were handed to the cpu engine (`fallback: 'cpu'`). */
  private fellBackFrom: string | undefined;
  private readonly producer: Producer;
  private readonly store: CompletionStore;
  private readonly statsRecorder = new StatsRecorder();
  private readonly harvester: Harvester;
  /** How long the owner spins for a result: pollSpinUs, or 0 when the engine completes on this thread. */
  private readonly ownerSpinUs: number;
  private state: QueueStats['state'] = 'ready';
  private fault: Error | undefined;
  private timeToReadyMs = 0;
  private shutdownPromise: Promise<ShutdownReport> | undefined;

  /** Use `open()`. */
  private constructor(config: QueueConfig, handler: HandlerSpec, plan: EnginePlan) {
    this.config = config;
    this.handler = handler;
    this.store = new CompletionStore(config.maxRetainedResults);
    validatePartitionerSpec(config.partitioner, plan.shards);
    if (config.partitioner.kind === 'round-robin') {
      throw new InvalidArgumentError(
        "partitioner 'round-robin' ignores keys, so it cannot keep per-key order; use 'consistent-hash' (default), 'hash' or 'range' (unkeyed messages are spread round robin anyway)",
      );
    }
    const resultBytes = config.resultBytes ?? handlerResultBytes(handler, config.slotBytes);
    const ringBytes = computeLayout({
      shards: plan.shards,
      consumers: plan.consumers,
      shardCapacity: config.capacity / plan.shards,
      slotBytes: config.slotBytes,
      resultBytes,
    }).totalBytes;
    if (ringBytes > LIMITS.ringBytes) {
      throw new InvalidArgumentError(
        `capacity × (slotBytes + resultBytes) needs a ${(ringBytes / 2 ** 20).toFixed(0)} MiB ring (capacity ${config.capacity}, slotBytes ${config.slotBytes}, resultBytes ${resultBytes}); at most ${LIMITS.ringBytes / 2 ** 20} MiB is allowed: lower capacity or slotBytes`,
      );
    }
    this.ring = SlotRing.create(
      {
        shards: plan.shards,
        consumers: plan.consumers,
        shardCapacity: config.capacity / plan.shards,
        slotBytes: config.slotBytes,
        resultBytes,
      },
      config.maxRetries,
    );
    this.engine = plan.create({
      ring: this.ring,
      handler,
      config,
      onFault: (e) => this.onEngineFault(e),
      harvestNow: () => {
        if (this.state !== 'shut-down') this.harvester.harvestAll();
      },
    });
    // Completions delivered by the owner thread's own event loop (redis): spinning or polling per turn
    // for them would only delay them.
    const onOwnerThread = this.engine.completesOnOwnerThread === true;
    this.ownerSpinUs = onOwnerThread ? 0 : config.pollSpinUs;
    this.harvester = new Harvester(this.ring, this.store, this.statsRecorder, {
      pollSpinUs: this.ownerSpinUs,
      activeIdleMs: onOwnerThread ? 0 : ACTIVE_IDLE_MS,
      maxRetainedResults: config.maxRetainedResults,
      doorbell: this.engine.wakesOwner,
      onPoll: config.harvest === 'on-poll',
    });
    this.producer = new Producer(this.ring, config.partitioner, (ms) => this.harvester.waitForSpace(ms));
  }

  /** @internal */
  static async open(options?: QueueOptions): Promise<Queue> {
    const started = performance.now();
    const config = resolveOptions(options);
    const handler = resolveHandler(config.handler);
    const queue = new Queue(config, handler, await planEngine(config));
    await queue.engine.start();
    queue.harvester.start();
    queue.timeToReadyMs = performance.now() - started;
    return queue;
  }

  // ---- enqueue ----

  /** Enqueues one message, waiting up to `timeoutMs` for space; resolves with its id. */
  async enqueue(payload: Uint8Array, options: EnqueueOptions = {}): Promise<number> {
    checkEnqueueOptionNames('enqueue', options);
    this.checkAccepting();
    const key = this.producer.checkKey(options.key);
    const bytes = this.producer.checkPayload(payload);
    const timeoutMs = options.timeoutMs === undefined ? this.config.enqueueTimeoutMs : checkTimeout('timeoutMs', options.timeoutMs);
    if (options.signal?.aborted) throw new AbortedError('enqueue', options.signal.reason);
    if (this.producer.waitingCount === 0) {
      try {
        const id = this.producer.tryEnqueue(bytes, key);
        this.afterEnqueue();
        return id;
      } catch (error) {
        if (!(error instanceof QueueFullError)) throw error;
      }
    }
    const [id] = await this.waitingEnqueue([bytes], key === undefined ? undefined : [key], timeoutMs, options.signal);
    return id as number;
  }

  /** Enqueues one message now, or throws QueueFullError (code FULL) at once. */
  tryEnqueue(payload: Uint8Array, options: { key?: MessageKey } = {}): number {
    this.checkAccepting();
    try {
      const id = this.producer.tryEnqueue(payload, options.key);
      this.afterEnqueue();
      return id;
    } catch (error) {
      if (error instanceof QueueFullError) this.statsRecorder.droppedFull++;
      throw error;
    }
  }

  /**
   * Enqueues many messages (the high-throughput path); resolves with their ids in payload order. The
   * payloads are views, or packed in one buffer (`PackedPayloads`).
   */
  async enqueueBatch(payloads: BatchPayloads, options: EnqueueBatchOptions = {}): Promise<number[]> {
    checkEnqueueOptionNames('enqueueBatch', options);
    this.checkAccepting();
    if (Array.isArray(payloads)) this.producer.checkPayloads(payloads);
    else payloads = this.producer.checkPacked(payloads);
    const count = batchCount(payloads);
    let keys: (MessageKey | undefined)[] | undefined;
    if (options.keys !== undefined) {
      if (!Array.isArray(options.keys) || options.keys.length !== count) {
        throw new InvalidArgumentError(`keys must be an array as long as payloads (${count}); got ${describeValue(options.keys)}`);
      }
      keys = options.keys.map((k, i) => this.producer.checkKey(k, `keys[${i}]`));
    }
    const timeoutMs = options.timeoutMs === undefined ? this.config.enqueueTimeoutMs : checkTimeout('timeoutMs', options.timeoutMs);
    if (options.signal?.aborted) throw new AbortedError('enqueueBatch', options.signal.reason);
    if (options.onIds !== undefined && typeof options.onIds !== 'function')
      throw new InvalidArgumentError(`onIds must be a function; got ${describeValue(options.onIds)}`);
    if (count === 0) return [];
    return this.waitingEnqueue(payloads, keys, timeoutMs, options.signal, options.onIds);
  }

  private async waitingEnqueue(
    payloads: BatchPayloads,
    keys: (MessageKey | undefined)[] | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
    onIds?: (firstId: number) => void,
  ): Promise<number[]> {
    const pending = this.producer.enqueueMany(payloads, keys, timeoutMs, signal, onIds);
    this.afterEnqueue();
    try {
      return await pending;
    } catch (error) {
      if (error instanceof TimeoutError) this.statsRecorder.droppedFull += batchCount(payloads) - error.enqueuedIds.length;
      throw error;
    } finally {
      this.afterEnqueue();
    }
  }

  private afterEnqueue(): void {
    this.harvester.kick();
  }

  // ---- results ----

  /** Waits for a message's completion (a result, or a dead letter with its reason) and takes it. */
  result(id: number, options: ResultOptions = {}): Promise<Completion> {
    try {
      this.checkObjectResults('result');
      return this.resultOrThrow(id, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private resultOrThrow(id: number, options: ResultOptions): Promise<Completion> {
    this.checkId(id);
    const kept = this.store.take(id) ?? this.spinFor(id);
    if (kept) {
      this.harvester.kick();
      return Promise.resolve(kept);
    }
    if (this.state === 'shut-down')
      return Promise.reject(new ShutdownError(`the queue is shut down and holds no result for message ${id}`));
    if (this.fault) return Promise.reject(this.faultError());
    const timeoutMs = options.timeoutMs === undefined ? this.config.resultTimeoutMs : checkTimeout('timeoutMs', options.timeoutMs);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError(`result(${id})`, signal.reason));
    return new Promise<Completion>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.store.unwait(id, waiter);
        this.resultWaiters.delete(fail);
      };
      const fail = (error: Error) => {
        cleanup();
        reject(error);
      };
      const waiter = {
        resolve: (c: Completion) => {
          cleanup();
          resolve(c);
        },
      };
      const onAbort = () => fail(new AbortedError(`result(${id})`, signal?.reason));
      this.store.wait(id, waiter);
      this.resultWaiters.add(fail);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          fail(
            this.inRing(id) || this.producer.isWaiting(id)
              ? new TimeoutError(`message ${id} did not complete within ${timeoutMs} ms`)
              : new NotFoundError(`message ${id} is not in the queue: its result was already taken`),
          );
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.harvester.kick();
    });
  }

  private readonly resultWaiters = new Set<(error: Error) => void>();

  /**
   * The bounded spin of the round-trip path: harvest for up to `pollSpinUs` before falling back to
   * per-turn polling. Answers usually come back within a few µs, and a timer + promise costs about as much.
   */
  private spinFor(id: number): Completion | undefined {
    if (this.state !== 'ready' || this.ownerSpinUs === 0) return undefined;
    const until = performance.now() + this.ownerSpinUs / 1000;
    do {
      if (this.harvester.harvestAll() > 0) {
        const c = this.store.take(id);
        if (c) return c;
      }
    } while (performance.now() < until);
    return undefined;
  }

  /** Takes a message's completion if it is there; throws NotReadyError while it is in the queue, NotFoundError otherwise. */
  tryDequeueResult(id: number): Completion {
    this.checkObjectResults('tryDequeueResult');
    this.checkId(id);
    const kept = this.store.take(id);
    if (kept) {
      this.harvester.kick();
      return kept;
    }
    // Harvest now: the answer may be sitting in the ring.
    this.harvester.harvestAll();
    const now = this.store.take(id);
    if (now) return now;
    if (this.inRing(id) || this.producer.isWaiting(id)) throw new NotReadyError(id);
    throw new NotFoundError(`message ${id} is not in the queue: its result was already taken`);
  }

  /** Takes up to `max` completions, oldest first, without waiting. */
  pollCompletions(max = 1024): Completion[] {
    this.checkObjectResults('pollCompletions');
    checkInteger('max', max, 1, 2 ** 31);
    if (this.store.retained < max) this.harvester.harvestAll();
    const out = this.store.poll(max);
    if (out.length > 0) this.harvester.kick();
    return out;
  }

  /**
   * Takes finished messages into `into` (see createCompletionBatch), oldest first per shard, with no
   * object per message; returns how many (0 when none is ready). It never waits. The throughput path:
   * with `harvest: 'on-poll'` nothing else takes completions, so call it while work is out.
   */
  pollCompletionsInto(into: CompletionBatch): number {
    checkCompletionBatch(into);
    let n = 0;
    let used = 0;
    // Completions already harvested into objects (a shutdown's drain, or the background harvester of
    // harvest: 'auto') come first.
    for (let c = this.store.peek(); c !== undefined && n < into.ids.length; c = this.store.peek()) {
      if (used + c.data.byteLength > into.results.length) break;
      this.store.poll(1);
      into.ids[n] = c.id;
      into.statuses[n] = c.status === 'ok' ? BatchStatus.OK : BatchStatus.DEAD_LETTER;
      into.attempts[n] = c.attempts;
      into.handlerStatuses[n] = c.handlerStatus;
      into.resultOffsets[n] = used;
      into.resultLengths[n] = c.data.byteLength;
      into.results.set(c.data, used);
      used += c.data.byteLength;
      n++;
    }
    if (this.state === 'shut-down') return n;
    return this.harvester.harvestInto(into, n, used);
  }

  /** `harvest: 'on-poll'` queues give completions through pollCompletionsInto only. */
  private checkObjectResults(call: string): void {
    if (this.config.harvest === 'on-poll') {
      throw new InvalidArgumentError(`${call}: this queue was opened with harvest: 'on-poll'; read completions with pollCompletionsInto`);
    }
  }

  /** Completions as they arrive, until the queue is shut down (or `signal` aborts). */
  async *completions(options: { signal?: AbortSignal; batch?: number } = {}): AsyncGenerator<Completion, void, undefined> {
    this.checkObjectResults('completions');
    const batch = checkInteger('batch', options.batch ?? 256, 1, 2 ** 31);
    const signal = options.signal;
    for (;;) {
      if (signal?.aborted) return;
      const got = this.pollCompletions(batch);
      for (const c of got) yield c;
      if (got.length > 0) continue;
      if (this.state === 'shut-down' || this.fault) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          this.closeListeners.delete(done);
          resolve();
        };
        this.store.onNextArrival(done);
        this.closeListeners.add(done);
        signal?.addEventListener('abort', done, { once: true });
        this.harvester.kick();
      });
    }
  }

  private readonly closeListeners = new Set<() => void>();

  /** Takes the dead letters recorded so far (each also completed with status 'dead-letter'). */
  deadLetters(): DeadLetter[] {
    return this.store.takeDeadLetters();
  }

  // ---- control ----

  /** Consumers take no new message until `resume()`; enqueues still fill the queue. */
  pause(): void {
    this.checkAccepting();
    this.ring.setControl(Control.PAUSED, 1);
    this.state = 'paused';
  }

  resume(): void {
    this.checkAccepting();
    this.ring.setControl(Control.PAUSED, 0);
    Atomics.notify(this.ring.i32, Control.PAUSED);
    this.state = 'ready';
    this.harvester.kick();
  }

  stats(): QueueStats {
    const s = this.statsRecorder;
    const depth = this.ring.totalDepth();
    s.sampleDepth(depth);
    return {
      engine: this.engine.name,
      engineDetail: this.engine.describe(),
      state: this.state,
      enqueued: s.completed + s.deadLettered + depth,
      completed: s.completed,
      deadLettered: s.deadLettered,
      retries: s.retries,
      droppedFull: s.droppedFull,
      depth,
      maxDepth: s.maxDepth,
      capacity: this.config.capacity,
      retainedResults: this.store.retained,
      deadLetterRecordsDropped: this.store.deadLettersDropped,
      latency: s.latency(),
      timeToReadyMs: Math.round(this.timeToReadyMs * 100) / 100,
      ...heartbeatAge(this.engine),
      ...(this.fault ? { fault: this.fault.message } : {}),
      ...(this.fellBackFrom ? { fellBackFrom: this.fellBackFrom } : {}),
    };
  }

  /** What a worker thread passes to `attachProducer` to enqueue into this queue. */
  producerHandle(): ProducerHandle {
    return { sab: this.ring.sab, partitioner: this.config.partitioner, enqueueTimeoutMs: this.config.enqueueTimeoutMs };
  }

  /** Stops accepting messages, drains what is in flight, stops the engine and reports. Idempotent. */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownReport> {
    let timeoutMs: number;
    try {
      timeoutMs = options.timeoutMs === undefined ? SHUTDOWN_TIMEOUT_MS : checkTimeout('timeoutMs', options.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    this.shutdownPromise ??= this.drainAndStop(timeoutMs);
    return this.shutdownPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  private async drainAndStop(timeoutMs: number): Promise<ShutdownReport> {
    const started = performance.now();
    const before = this.statsRecorder.completed + this.statsRecorder.deadLettered;
    this.state = 'draining';
    this.ring.setControl(Control.CLOSED, 1);
    this.ring.setControl(Control.PAUSED, 0);
    Atomics.notify(this.ring.i32, Control.PAUSED);
    this.harvester.draining = true;
    while (this.ring.totalDepth() > 0 && !this.fault && performance.now() - started < timeoutMs) {
      this.harvester.harvestAll();
      await new Promise((resolve) => setTimeout(resolve, this.ring.totalDepth() > 0 ? 1 : 0));
    }
    await this.engine.stop();
    this.harvester.harvestAll();
    this.harvester.stop();
    const undelivered = this.collectUndelivered();
    this.state = 'shut-down';
    for (const fail of [...this.resultWaiters]) fail(new ShutdownError('the queue shut down before this message completed'));
    for (const done of [...this.closeListeners]) done();
    return {
      drained: this.statsRecorder.completed + this.statsRecorder.deadLettered - before,
      undelivered,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    };
  }

  // ---- internals ----

  private checkAccepting(): void {
    if (this.state === 'draining' || this.state === 'shut-down') throw new ShutdownError();
    if (this.fault) throw this.faultError();
  }

  private checkId(id: unknown): void {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      throw new InvalidArgumentError(`id must be a message id (a positive integer returned by enqueue); got ${describeValue(id)}`);
    }
    if (id >= this.ring.peekNextId())
      throw new NotFoundError(`message ${id} was never enqueued (the next id is ${this.ring.peekNextId()})`);
  }

  /** Whether a message with this id sits in the ring (O(depth): only on slow paths). */
  private inRing(id: number): boolean {
    for (const slot of this.ring.unharvestedSlots()) {
      if (this.ring.idAt(slot) === id) return true;
    }
    return false;
  }

  private collectUndelivered(): UndeliveredMessage[] {
    const out: UndeliveredMessage[] = [];
    for (const slot of this.ring.unharvestedSlots()) {
      const state = this.ring.stateOf(slot);
      if (state === SlotState.READY || state === SlotState.INFLIGHT) {
        out.push({
          id: this.ring.idAt(slot),
          payload: this.ring.payloadAt(slot).slice(),
          state: state === SlotState.READY ? 'queued' : 'in-flight',
        });
      }
    }
    return out;
  }

  private faultError(): EngineFailedError {
    return new EngineFailedError(`the ${this.engine.name} engine failed: ${this.fault?.message}`, { cause: this.fault });
  }

  private onEngineFault(error: Error): void {
    if (this.fault) return;
    if (this.config.fallback === 'cpu' && this.engine.name !== 'cpu' && this.state !== 'shut-down') {
      this.failOver(error);
      return;
    }
    this.fault = error;
    this.state = 'failed';
    const failure = this.faultError();
    for (const fail of [...this.resultWaiters]) fail(failure);
    for (const done of [...this.closeListeners]) done();
  }

  /**
   * `fallback: 'cpu'`: the ring is the same for every engine, so cpu workers take over the failed engine's
   * shards in place — its finished slots are harvested as usual, its READY and INFLIGHT ones run again.
   */
  private failOver(error: Error): void {
    const failed = this.engine;
    this.fellBackFrom = `${failed.name} (${error.message})`;
    const cpu = createFallbackEngine({
      ring: this.ring,
      handler: this.handler,
      config: this.config,
      onFault: (e) => this.onEngineFault(e),
    });
    this.engine = cpu;
    // The failed consumers must be gone (a hung kernel killed with its context) before cpu workers touch
    // the same slots; then clear the STOP its shutdown set.
    const takeOver = async () => {
      await failed.stop().catch(() => {});
      this.ring.setControl(Control.STOP, 0);
      await cpu.start();
    };
    takeOver().catch((e: Error) => this.onEngineFault(e));
  }
}

/** Opens a queue: checks the options, builds the ring, starts the engine. */
export function open(options?: QueueOptions): Promise<Queue> {
  return Queue.open(options);
}

/** The engine's heartbeat age, when it has one (GPU engines), as a stats field. */
function heartbeatAge(engine: Engine): { heartbeatAgeMs?: number } {
  const age = engine.heartbeatAgeMs?.();
  return age === undefined ? {} : { heartbeatAgeMs: Math.round(age) };
}

/** A CompletionBatch's arrays must line up: one entry per completion, room for the results. */
function checkCompletionBatch(into: CompletionBatch): void {
  const n = into?.ids?.length;
  const ok =
    into?.ids instanceof Float64Array &&
    into.statuses instanceof Uint8Array &&
    into.attempts instanceof Uint32Array &&
    into.handlerStatuses instanceof Uint32Array &&
    into.resultOffsets instanceof Uint32Array &&
    into.resultLengths instanceof Uint32Array &&
    into.results instanceof Uint8Array &&
    [into.statuses, into.attempts, into.handlerStatuses, into.resultOffsets, into.resultLengths].every((a) => a.length === n);
  if (!ok) {
    throw new InvalidArgumentError(
      `pollCompletionsInto takes a CompletionBatch (createCompletionBatch(maxCompletions, resultBytes)): typed arrays of one length; got ${describeValue(into)}`,
    );
  }
}
