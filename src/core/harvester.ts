// The owner thread's side of the ring: harvests DONE slots into completions, in position order per shard,
// without ever blocking the event loop. While work is in flight it checks once per event-loop turn
// (setImmediate), spinning up to `pollSpinUs` first when a caller awaits a result; when nothing moves
// for a while, or the ring is empty, it sleeps on HARVEST_DOORBELL with Atomics.waitAsync and the next
// consumer that publishes DONE wakes it. (Measured on the GPU machine: per-turn checks cost ~0.5 µs over
// spinning; a cross-thread wake ~11 µs, so the doorbell is for idle periods only.)
import { BatchStatus, type CompletionBatch, type CompletionStore } from './completions.js';
import { describeHandlerStatus, HandlerStatus } from './handler-status.js';
import { wallClockMs } from './producer.js';
import { Control, enqueuedAtIndex, headerWord, outcomeWord, resultByte, SlotFlag, SlotHeader, SlotOutcome } from './slot-layout.js';
import type { SlotRing } from './slot-ring.js';
import type { StatsRecorder } from './stats.js';

/** After this long without a completion while work is queued, stop per-turn polling and sleep. */
export const ACTIVE_IDLE_MS = 2;
/** Longest doorbell sleep; a safety net (and the poll period for engines that cannot ring it). */
const SLEEP_MS_WITH_DOORBELL = 250;
const SLEEP_MS_WITHOUT_DOORBELL = 1;
const EMPTY = new Uint8Array(0);
/** Results are copied out of the ring into shared chunks of this size (one allocation per chunk, not per message). */
const ARENA_BYTES = 64 * 1024;

export interface HarvesterOptions {
  pollSpinUs: number;
  maxRetainedResults: number;
  /** Whether the engine's consumers ring HARVEST_DOORBELL. */
  doorbell: boolean;
  /**
   * `harvest: 'on-poll'`: nothing is harvested in the background or into completion objects; only
   * `harvestInto` (pollCompletionsInto) takes finished slots, and a shutdown's drain. **Default:** false
   */
  onPoll?: boolean;
  /** Per-turn polling stops after this long without a completion (0: right after a pass that found none). */
  activeIdleMs: number;
}

export class Harvester {
  private readonly ring: SlotRing;
  private readonly store: CompletionStore;
  private readonly stats: StatsRecorder;
  private readonly options: HarvesterOptions;
  private mode: 'active' | 'sleeping' | 'stopped' = 'sleeping';
  private generation = 0;
  private lastProgressMs = 0;
  /** Set while shutting down: harvest regardless of the retention limit. */
  draining = false;
  /** Callers awaiting something the harvester produces (results, iterators, space): worth a spin. */
  private readonly spaceListeners: (() => void)[] = [];
  private readonly visit: (slot: number) => void;
  private arena = new Uint8Array(0);
  private arenaUsed = 0;
  /** The wall clock at the start of the current pass (one clock read per pass, not per message). */
  private passNowMs = 0;

  constructor(ring: SlotRing, store: CompletionStore, stats: StatsRecorder, options: HarvesterOptions) {
    this.ring = ring;
    this.store = store;
    this.stats = stats;
    this.options = options;
    this.visit = (slot) => this.complete(slot);
  }

  // ---- pollCompletionsInto: straight from the ring into typed arrays ----

  /**
   * Harvests into `into` from index `at` (result bytes from `used`) until it is full: no completion
   * object, no result copy kept. Never takes a slot whose result might not fit (each may need the ring's
   * resultBytes). Returns the new count. One tight loop per shard's run of DONE slots: this is the bulk
   * path's per-message cost.
   */
  harvestInto(into: CompletionBatch, at: number, used: number): number {
    const ring = this.ring;
    const layout = ring.layout;
    const { shards, shardCapacity } = layout;
    const resultBytes = Math.max(1, layout.resultBytes);
    const { i32, u8, f64 } = ring;
    const stats = this.stats;
    const { ids, statuses, attempts: attemptsOut, handlerStatuses, resultOffsets, resultLengths, results } = into;
    const nowMs = wallClockMs();
    const mask = shardCapacity - 1;
    let i = at;
    let usedBytes = used;
    let harvested = 0;
    // Counted here and added to the stats once: messages of one batch share an enqueue time, so their
    // latencies are recorded a run at a time (a call per message was a third of this loop's cost).
    let completed = 0;
    let retries = 0;
    let runEnqueuedAt = Number.NaN;
    let runCount = 0;
    for (let s = 0; s < shards; s++) {
      const room = Math.min(ids.length - i, Math.floor((results.length - usedBytes) / resultBytes));
      if (room <= 0) break;
      const n = ring.doneRun(s, room);
      if (n === 0) continue;
      const shardSlot = s * shardCapacity;
      let index = ring.harvestTail(s) & mask;
      for (let k = 0; k < n; k++, i++) {
        const slot = shardSlot + index;
        index = (index + 1) & mask;
        const h = headerWord(layout, slot);
        const o = outcomeWord(layout, slot);
        const attempts = i32[o + SlotOutcome.ATTEMPTS] as number;
        const handlerStatus = i32[o + SlotOutcome.HANDLER_STATUS] as number;
        const enqueuedAt = f64[enqueuedAtIndex(layout, slot)] as number;
        if (enqueuedAt === runEnqueuedAt) runCount++;
        else {
          if (runCount > 0) stats.recordLatencyRunMs(nowMs - runEnqueuedAt, runCount);
          runEnqueuedAt = enqueuedAt;
          runCount = 1;
        }
        if (attempts > 1) retries += attempts - 1;
        ids[i] = (i32[h + SlotHeader.ID_HI] as number) * 4294967296 + ((i32[h + SlotHeader.ID_LO] as number) >>> 0);
        attemptsOut[i] = attempts;
        handlerStatuses[i] = handlerStatus;
        resultOffsets[i] = usedBytes;
        if (handlerStatus !== HandlerStatus.OK) {
          stats.deadLettered++;
          statuses[i] = BatchStatus.DEAD_LETTER;
          resultLengths[i] = 0;
          this.recordDeadLetter(slot, attempts, handlerStatus);
          continue;
        }
        completed++;
        statuses[i] = BatchStatus.OK;
        const len = (i32[o + SlotOutcome.RESULT_LEN] as number) >>> 0;
        resultLengths[i] = len;
        const from = resultByte(layout, slot);
        if (len <= 64) for (let b = 0; b < len; b++) results[usedBytes + b] = u8[from + b] as number;
        else results.set(u8.subarray(from, from + len), usedBytes);
        usedBytes += len;
      }
      ring.release(s, n);
      harvested += n;
    }
    if (runCount > 0) stats.recordLatencyRunMs(nowMs - runEnqueuedAt, runCount);
    stats.completed += completed;
    stats.retries += retries;
    if (harvested > 0) {
      ring.wakeSpaceWaiters();
      if (this.spaceListeners.length > 0) for (const l of this.spaceListeners.splice(0)) l();
    }
    return i;
  }

  /** Starts (or keeps) per-turn polling: called after an enqueue on this thread and when results are read. */
  kick(): void {
    if (this.mode !== 'sleeping' || (this.options.onPoll && !this.draining)) return;
    this.mode = 'active';
    this.generation++;
    this.lastProgressMs = performance.now();
    setImmediate(this.tick);
  }

  /** Begins watching the ring (sleeping until a consumer rings). */
  start(): void {
    if (this.options.onPoll) {
      this.mode = 'sleeping'; // nothing runs in the background; a drain kicks
      return;
    }
    this.mode = 'active';
    this.sleep();
  }

  stop(): void {
    this.mode = 'stopped';
    this.generation++;
  }

  /** Resolves after the next harvest that freed slots, or after `ms`. */
  waitForSpace(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.spaceListeners.push(done);
      this.kick();
    });
  }

  /** One pass over every shard. Returns how many messages were harvested. */
  harvestAll(): number {
    if (this.options.onPoll && !this.draining) return 0;
    const limit = this.harvestLimit();
    if (limit <= 0) return 0;
    let n = 0;
    this.passNowMs = wallClockMs();
    for (let s = 0; s < this.ring.layout.shards && n < limit; s++) n += this.ring.harvest(s, limit - n, this.visit);
    if (n > 0) {
      this.ring.wakeSpaceWaiters();
      this.store.notifyArrivals();
      if (this.spaceListeners.length > 0) for (const l of this.spaceListeners.splice(0)) l();
    }
    return n;
  }

  /**
   * How many completions may be harvested now: results are kept until read, and past maxRetainedResults
   * the harvester stops (so the ring fills and producers feel it). A caller awaiting a result, or a
   * drain, lifts the limit: someone is reading.
   */
  private harvestLimit(): number {
    if (this.draining || this.store.waiting > 0) return Number.POSITIVE_INFINITY;
    return this.options.maxRetainedResults - this.store.retained;
  }

  private complete(slot: number): void {
    const ring = this.ring;
    const id = ring.idAt(slot);
    const attempts = ring.outcome(slot, SlotOutcome.ATTEMPTS);
    const handlerStatus = ring.outcome(slot, SlotOutcome.HANDLER_STATUS);
    const stats = this.stats;
    stats.recordLatencyMs(this.passNowMs - ring.enqueuedAt(slot));
    if (attempts > 1) stats.retries += attempts - 1;
    if (handlerStatus === HandlerStatus.OK) {
      stats.completed++;
      this.store.add({ id, status: 'ok', data: this.copyResult(slot), attempts, handlerStatus });
      return;
    }
    stats.deadLettered++;
    const reason = this.recordDeadLetter(slot, attempts, handlerStatus);
    this.store.add({ id, status: 'dead-letter', data: EMPTY, attempts, handlerStatus, reason });
  }

  /** Keeps a dead letter's record (with a copy of its payload) for `deadLetters()`; returns its reason. */
  private recordDeadLetter(slot: number, attempts: number, handlerStatus: number): string {
    const ring = this.ring;
    const reason = `the last of ${attempts} attempt${attempts === 1 ? '' : 's'} ended with ${describeHandlerStatus(handlerStatus)}`;
    const hasKey = (ring.header(slot, SlotHeader.FLAGS) & SlotFlag.HAS_KEY) !== 0;
    this.store.addDeadLetter({
      id: ring.idAt(slot),
      payload: ring.payloadAt(slot).slice(),
      attempts,
      handlerStatus,
      reason,
      ...(hasKey ? { keyHash: ring.header(slot, SlotHeader.KEY_HASH) >>> 0 } : {}),
    });
    return reason;
  }

  /** A copy of a slot's result (the slot is reused right after), carved from a shared chunk when small. */
  private copyResult(slot: number): Uint8Array {
    const len = this.ring.outcome(slot, SlotOutcome.RESULT_LEN) >>> 0;
    if (len === 0) return EMPTY;
    if (len > ARENA_BYTES / 8) return this.ring.resultAt(slot).slice();
    if (this.arenaUsed + len > this.arena.length) {
      this.arena = new Uint8Array(ARENA_BYTES);
      this.arenaUsed = 0;
    }
    const from = resultByte(this.ring.layout, slot);
    const at = this.arenaUsed;
    const src = this.ring.u8;
    const dst = this.arena;
    if (len <= 64) for (let i = 0; i < len; i++) dst[at + i] = src[from + i] as number;
    else dst.set(src.subarray(from, from + len), at);
    this.arenaUsed = (at + len + 7) & ~7;
    return dst.subarray(at, at + len);
  }

  private readonly tick = (): void => {
    if (this.mode !== 'active') return;
    let n = this.harvestAll();
    const now = performance.now();
    if (n === 0 && this.store.waiting > 0 && this.options.pollSpinUs > 0) {
      // Bounded spin: a caller awaits a result, and the answer is usually microseconds away.
      const until = now + this.options.pollSpinUs / 1000;
      while (n === 0 && performance.now() < until) n = this.harvestAll();
    }
    const depth = this.ring.totalDepth();
    this.stats.sampleDepth(depth);
    if (n > 0) this.lastProgressMs = now;
    if (depth === 0 || now - this.lastProgressMs > this.options.activeIdleMs) {
      this.sleep();
      return;
    }
    setImmediate(this.tick);
  };

  /** Sleeps on the doorbell: set it, look once more, then wait (asynchronously) for a consumer to ring. */
  private sleep(): void {
    const { i32 } = this.ring;
    this.mode = 'sleeping';
    const generation = ++this.generation;
    const wake = () => {
      if (this.mode === 'sleeping' && this.generation === generation) this.kick();
    };
    if (!this.options.doorbell) {
      setTimeout(wake, SLEEP_MS_WITHOUT_DOORBELL);
      return;
    }
    Atomics.store(i32, Control.HARVEST_DOORBELL, 1);
    // Finished slots held back by the retention limit are no reason to wake: reading results kicks us.
    if (this.harvestLimit() > 0 && this.anyDone()) {
      Atomics.store(i32, Control.HARVEST_DOORBELL, 0);
      queueMicrotask(wake);
      return;
    }
    const result = Atomics.waitAsync(i32, Control.HARVEST_DOORBELL, 1, SLEEP_MS_WITH_DOORBELL);
    if (result.async) result.value.then(wake);
    else queueMicrotask(wake);
  }

  private anyDone(): boolean {
    for (let s = 0; s < this.ring.layout.shards; s++) {
      if (this.ring.doneAt(s, this.ring.harvestTail(s))) return true;
    }
    return false;
  }
}
