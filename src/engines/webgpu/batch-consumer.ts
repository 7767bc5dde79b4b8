// The webgpu engine's consumer loop, on the thread that owns the device: it takes the READY slots of its
// shards in position order into a batch (READY → INFLIGHT, records copied out of the ring), runs the batch
// through the kernel while it gathers the next, and publishes each batch's outcomes into the ring (result,
// RESULT_LEN, HANDLER_STATUS, ATTEMPTS, then DONE). It never blocks: it waits on promises (the GPU's,
// Atomics.waitAsync on its doorbell, a turn of the event loop).
//
// Batch size adapts by itself: a batch is sent as soon as a stage is free, so a lone message goes at once
// (latency); while every stage is in flight, READY slots pile up and the next batch takes them all, up to
// the stage's capacity, which doubles whenever a batch fills it (throughput).
import { HandlerStatus } from '../../core/handler-status.js';
import {
  Control,
  consumerDoorbellWord,
  HEADER_BYTES,
  ShardControl,
  SlotHeader,
  SlotState,
  shardWord,
  slotByteOffset,
} from '../../core/slot-layout.js';
import type { SlotRing } from '../../core/slot-ring.js';
import { type BatchStage, OUTCOME_HEADER_BYTES, outcomeRecordBytes } from './batch-stage.js';
import type { GpuComputePipeline } from './gpu-api.js';
import { OUTCOME_KILLED_CONSUMER } from './kernel-source.js';

/** Longest doorbell or pause sleep before looking again without a wake-up (a safety net). */
const SLEEP_CHECK_MS = 100;

export interface BatchConsumerOptions {
  ring: SlotRing;
  shards: number[];
  stages: BatchStage[];
  pipeline: GpuComputePipeline;
  /** Largest batch: stages grow up to this many messages. */
  maxBatch: number;
  /** How long an idle consumer checks once per event-loop turn before it sleeps on its doorbell. */
  spinUs: number;
  /** The slow wrapper's delay per attempt, ms (0: none): a batch is published no sooner. */
  holdMsPerAttempt: number;
  /** A fatal fault (the device lost, a validation error): called once; the loop then stops touching the ring. */
  onFault(error: Error): void;
  /** Loses the device on purpose (the crash wrapper fired). */
  loseDevice(): void;
}

export class BatchConsumer {
  private readonly o: BatchConsumerOptions;
  private readonly i32: Int32Array;
  private readonly cursors: number[];
  private readonly doorbells: number[];
  private readonly maxAttempts: number;
  /** u32 words from one outcome record to the next. */
  private readonly outcomeWords: number;
  private readonly idle: BatchStage[];
  private readonly running = new Set<Promise<void>>();
  private faulted = false;
  private stopping = false;
  private wake: (() => void) | undefined;
  private bellWait: Promise<unknown> | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  /** Next shard to look at first, so no shard starves another when batches are full. */
  private firstShard = 0;
  /** Batches and messages run, for describe() and benchmarks. */
  readonly counts = { batches: 0, messages: 0, largestBatch: 0 };

  constructor(options: BatchConsumerOptions) {
    this.o = options;
    const { ring, shards } = options;
    this.i32 = ring.i32;
    this.cursors = shards.map((s) => resumePosition(ring, s));
    this.doorbells = [...new Set(shards.map((s) => consumerDoorbellWord(ring.layout, s)))];
    this.maxAttempts = 1 + ring.control(Control.MAX_RETRIES);
    this.outcomeWords = outcomeRecordBytes(ring.layout.resultBytes) / 4;
    this.idle = [...options.stages];
  }

  start(): void {
    // A bug in the loop must not leave the queue waiting forever: it is a fault like any other.
    this.loopDone = this.loop().catch((error: Error) => {
      this.fail(error);
      return Promise.allSettled([...this.running]).then(() => undefined);
    });
  }

  /** Marks the consumer dead: nothing more is written to the ring. Idempotent; reports once. */
  fail(error: Error): void {
    if (this.faulted) return;
    this.faulted = true;
    this.wakeUp();
    if (!this.stopping) this.o.onFault(error);
  }

  /** Takes no new batch, lets the running ones publish (or fail), then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.loopDone;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async loop(): Promise<void> {
    const i32 = this.i32;
    let idleSince = -1;
    while (!this.faulted && !this.stopping && Atomics.load(i32, Control.STOP) !== 1) {
      if (Atomics.load(i32, Control.PAUSED) === 1) {
        await this.sleepOn([Control.PAUSED], 1);
        continue;
      }
      const stage = this.idle.pop();
      if (!stage) {
        await this.nextWake(); // every stage is in flight: one coming back frees it
        continue;
      }
      const n = this.gather(stage);
      if (n > 0) {
        idleSince = -1;
        this.launch(stage);
        continue;
      }
      this.idle.push(stage);
      // Idle: look once per event-loop turn for a while, then sleep until a producer rings.
      const now = performance.now();
      if (idleSince < 0) idleSince = now;
      if ((now - idleSince) * 1000 < this.o.spinUs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await this.sleepOnDoorbells();
      idleSince = -1;
    }
    await Promise.allSettled([...this.running]);
  }

  /**
   * Takes READY slots into the stage, shard by shard from where each left off, in position order:
   * INFLIGHT, then the slot's header and payload copied into the stage's records. Returns the count.
   */
  private gather(stage: BatchStage): number {
    const { ring, shards } = this.o;
    const { i32, u8, layout } = ring;
    const recordBytes = layout.resultOffset;
    let records: Uint8Array | undefined;
    let n = 0;
    let finishedUnrun = 0;
    for (let k = 0; k < shards.length && n < stage.capacity; k++) {
      const s = (this.firstShard + k) % shards.length;
      const shard = shards[s] as number;
      let cursor = this.cursors[s] as number;
      const start = cursor;
      while (n < stage.capacity) {
        const off = slotByteOffset(layout, shard, cursor);
        const w = off >> 2;
        // Acquire: READY was stored after the payload was written.
        if (Atomics.load(i32, w + SlotHeader.STATE) !== SlotState.READY) break;
        Atomics.store(i32, w + SlotHeader.STATE, SlotState.INFLIGHT);
        cursor = (cursor + 1) | 0;
        const attempts = i32[w + SlotHeader.ATTEMPTS] as number;
        if (attempts >= this.maxAttempts) {
          // Run 1 + MAX_RETRIES times already, by consumers that died holding it: finish it unrun.
          i32[w + SlotHeader.HANDLER_STATUS] = HandlerStatus.CONSUMER_DIED;
          i32[w + SlotHeader.RESULT_LEN] = 0;
          Atomics.store(i32, w + SlotHeader.STATE, SlotState.DONE);
          finishedUnrun++;
          continue;
        }
        records ??= stage.recordsView();
        // The record carries ATTEMPTS as it was, so the kernel counts on from there; the slot counts this
        // run as started, so a device lost during it does not run the message forever.
        const len = i32[w + SlotHeader.PAYLOAD_LEN] as number;
        records.set(u8.subarray(off, off + HEADER_BYTES + len), n * recordBytes);
        Atomics.store(i32, w + SlotHeader.ATTEMPTS, attempts + 1);
        stage.slotOffsets[n] = off;
        n++;
      }
      if (cursor !== start) {
        this.cursors[s] = cursor;
        Atomics.store(i32, shardWord(shard, ShardControl.CONSUMER_CURSOR), cursor);
      }
    }
    this.firstShard = (this.firstShard + 1) % shards.length;
    if (finishedUnrun > 0) this.wakeOwner();
    stage.count = n;
    return n;
  }

  /** Runs a gathered batch; when its outcomes are back, publishes them and frees the stage. */
  private launch(stage: BatchStage): void {
    const full = stage.count === stage.capacity;
    this.counts.batches++;
    this.counts.messages += stage.count;
    this.counts.largestBatch = Math.max(this.counts.largestBatch, stage.count);
    const run = (async () => {
      try {
        const outcomes = await stage.run(this.o.pipeline);
        if (this.faulted) return;
        await this.hold(stage, outcomes);
        if (this.faulted) return;
        if (this.killedBy(stage, outcomes)) return;
        this.publish(stage, outcomes);
        stage.release();
        if (full && stage.capacity < this.o.maxBatch) stage.resize(Math.min(stage.capacity * 2, this.o.maxBatch));
        await stage.ready();
        this.idle.push(stage);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      }
    })();
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      this.wakeUp();
    });
  }

  /** The slow wrapper: publish no sooner than its delay × the most attempts any message of the batch made (batches of one: webgpu-engine.ts). */
  private async hold(stage: BatchStage, outcomes: Uint8Array): Promise<void> {
    if (this.o.holdMsPerAttempt <= 0) return;
    const words = new Uint32Array(outcomes.buffer, outcomes.byteOffset, outcomes.byteLength / 4);
    const stride = this.outcomeWords;
    let most = 0;
    for (let j = 0; j < stage.count; j++) most = Math.max(most, words[j * stride] as number);
    const until = stage.submittedAt + this.o.holdMsPerAttempt * most;
    while (performance.now() < until) await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - performance.now())));
  }

  /**
   * The crash wrapper fired on a message of the batch: the consumer dies as a crashing cpu worker would,
   * publishing nothing of the batch (its messages stay INFLIGHT, their ATTEMPTS counted, to run elsewhere).
   */
  private killedBy(stage: BatchStage, outcomes: Uint8Array): boolean {
    const words = new Uint32Array(outcomes.buffer, outcomes.byteOffset, outcomes.byteLength / 4);
    for (let j = 0; j < stage.count; j++) {
      if (words[j * this.outcomeWords + 1] !== OUTCOME_KILLED_CONSUMER) continue;
      const id = this.o.ring.idAt(stage.slotOffsets[j] as number);
      this.fail(new Error(`the crash handler killed the webgpu consumer on message ${id}: the device is lost on purpose`));
      this.o.loseDevice();
      return true;
    }
    return false;
  }

  /** Writes each outcome into its slot, then DONE (the store releases the result); wakes the owner if it sleeps. */
  private publish(stage: BatchStage, outcomes: Uint8Array): void {
    const { ring } = this.o;
    const { i32, u8, layout } = ring;
    const words = new Uint32Array(outcomes.buffer, outcomes.byteOffset, outcomes.byteLength / 4);
    const stride = this.outcomeWords;
    const capacity = layout.resultBytes;
    for (let j = 0; j < stage.count; j++) {
      const off = stage.slotOffsets[j] as number;
      const w = off >> 2;
      const rec = j * stride;
      let status = words[rec + 1] as number;
      let len = words[rec + 2] as number;
      // A user handler may claim more than the area holds: that is its failure, never an overrun.
      if (status === HandlerStatus.OK && len > capacity) {
        status = HandlerStatus.RESULT_TOO_LARGE;
        len = 0;
      }
      if (len > 0) {
        const from = (rec << 2) + OUTCOME_HEADER_BYTES;
        u8.set(outcomes.subarray(from, from + len), off + layout.resultOffset);
      }
      i32[w + SlotHeader.ATTEMPTS] = words[rec] as number;
      i32[w + SlotHeader.HANDLER_STATUS] = status;
      i32[w + SlotHeader.RESULT_LEN] = status === HandlerStatus.OK ? len : 0;
      // Release: the result and the fields above become visible with DONE.
      Atomics.store(i32, w + SlotHeader.STATE, SlotState.DONE);
    }
    Atomics.add(i32, Control.HEARTBEAT, 1);
    this.wakeOwner();
  }

  /** After publishing DONE: the owner thread may sleep waiting for completions. */
  private wakeOwner(): void {
    if (Atomics.load(this.i32, Control.HARVEST_DOORBELL) === 1) {
      Atomics.store(this.i32, Control.HARVEST_DOORBELL, 0);
      Atomics.notify(this.i32, Control.HARVEST_DOORBELL);
    }
  }

  private nextWake(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Sleeps until a word changes from `value`, a wake-up, or the safety-net timeout. */
  private async sleepOn(words: number[], value: number): Promise<void> {
    const waits = words.map((word) => Atomics.waitAsync(this.i32, word, value, SLEEP_CHECK_MS)).filter((r) => r.async);
    if (waits.length === 0) return;
    await Promise.race([...waits.map((r) => r.value), this.nextWake()]);
  }

  /**
   * Sleeps until a producer rings. Order: set the doorbell, then look once more, so a producer either sees
   * the doorbell (and notifies) or published before our look (and we see READY).
   */
  private async sleepOnDoorbells(): Promise<void> {
    const i32 = this.i32;
    for (const bell of this.doorbells) Atomics.store(i32, bell, 1);
    if (!this.anyReady() && Atomics.load(i32, Control.STOP) !== 1 && Atomics.load(i32, Control.PAUSED) !== 1) {
      // One outstanding wait at a time: a wait that lost the race to a wake-up is reused, not stacked.
      this.bellWait ??= Promise.race(
        this.doorbells.map((bell) => {
          const r = Atomics.waitAsync(i32, bell, 1, SLEEP_CHECK_MS);
          return r.async ? r.value : Promise.resolve(r.value);
        }),
      ).finally(() => {
        this.bellWait = undefined;
      });
      await Promise.race([this.bellWait, this.nextWake()]);
    }
    for (const bell of this.doorbells) Atomics.store(i32, bell, 0);
  }

  private anyReady(): boolean {
    const { ring, shards } = this.o;
    for (let k = 0; k < shards.length; k++) {
      if (ring.stateAt(shards[k] as number, this.cursors[k] as number) === SlotState.READY) return true;
    }
    return false;
  }
}

/**
 * Where a consumer taking over a shard starts: the first slot after HARVEST_TAIL that is not DONE. A slot
 * left INFLIGHT by a consumer that died is made READY again, so it runs once more (at-least-once). A
 * fresh ring gives position 0. (The cpu engine does the same; engines may not import each other.)
 */
function resumePosition(ring: SlotRing, shard: number): number {
  const head = Atomics.load(ring.i32, shardWord(shard, ShardControl.HEAD));
  let p = ring.harvestTail(shard);
  while (p !== head && ring.stateAt(shard, p) === SlotState.DONE) p = (p + 1) | 0;
  for (let q = p; q !== head; q = (q + 1) | 0) {
    const stateIdx = (slotByteOffset(ring.layout, shard, q) >> 2) + SlotHeader.STATE;
    if (Atomics.load(ring.i32, stateIdx) === SlotState.INFLIGHT) Atomics.store(ring.i32, stateIdx, SlotState.READY);
  }
  Atomics.store(ring.i32, shardWord(shard, ShardControl.CONSUMER_CURSOR), p);
  return p;
}
