// The webgpu engine's consumer loop, on the thread that owns the device: it takes the READY slots of its
// shards in position order into a batch (READY → INFLIGHT, runs of contiguous slots copied out of the
// ring: docs/architecture.md, "The webgpu engine's data path"), runs the batch
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
/** Results up to this many bytes are published word by word, longer ones with one `set()` (see publish). */
const WORD_COPY_MAX_BYTES = 64;
/**
 * What copying one message on its own (a `subarray()` view and a `set()`) costs beyond its bytes, in
 * bytes copied in the same time: on the order of 100 ns, against ~5 GB/s for a copy on one core
 * (bench/webgpu-host.mjs; bench/results/2026-11-24-webgpu-lavapipe-tuned.json). The gather copies a run
 * of slots whole when that moves fewer bytes than one copy per message with this added per message.
 */
const COPY_CALL_BYTES = 512;
/** u32 words before the result area in an outcome record. */
const OUTCOME_HEADER_WORDS = OUTCOME_HEADER_BYTES / 4;

export interface BatchConsumerOptions {
  ring: SlotRing;
  shards: number[];
  stages: BatchStage[];
  /** Bytes from one staged slot record to the next (BatchShape.slotRecordBytes). */
  stride: number;
  /** Stage runs of slots as the ring lays them out, one copy per run (BatchShape.wholeSlots). */
  wholeSlots: boolean;
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
   * Takes READY slots into the stage, shard by shard from where each left off, in position order: each
   * READY → INFLIGHT, and the batch recorded as runs of contiguous slots (a shard's slots lie one stride
   * apart until its ring wraps). Each run is staged with one copy of the ring image when `wholeSlots`,
   * else with one copy per message of its header and payload; either way the record keeps ATTEMPTS as it
   * was, and the slot then counts this run as started. Returns the count.
   */
  private gather(stage: BatchStage): number {
    const { ring, shards, stride, wholeSlots } = this.o;
    const { i32, u8, layout } = ring;
    const slotStride = layout.slotStride;
    const shardCapacity = layout.shardCapacity;
    const maxAttempts = this.maxAttempts;
    let records: Uint8Array | undefined;
    let n = 0;
    for (let k = 0; k < shards.length && n < stage.capacity; k++) {
      const s = (this.firstShard + k) % shards.length;
      const shard = shards[s] as number;
      let cursor = this.cursors[s] as number;
      const start = cursor;
      while (n < stage.capacity) {
        // One run: contiguous slots from the cursor, up to the shard's wrap or the stage's room.
        const first = slotByteOffset(layout, shard, cursor);
        const room = Math.min(stage.capacity - n, shardCapacity - (cursor & (shardCapacity - 1)));
        let len = 0;
        let payloadBytes = 0;
        for (let w = first >> 2; len < room; len++, w += slotStride >> 2) {
          // Acquire: READY was stored after the header and payload were written.
          if (Atomics.load(i32, w + SlotHeader.STATE) !== SlotState.READY) break;
          Atomics.store(i32, w + SlotHeader.STATE, SlotState.INFLIGHT);
          payloadBytes += i32[w + SlotHeader.PAYLOAD_LEN] as number;
        }
        if (len === 0) break;
        records ??= stage.recordsView();
        // One copy of the run unless its payloads are so much shorter than their areas that copying the
        // messages one by one moves fewer bytes, each copy call counted as COPY_CALL_BYTES.
        // After the copy, the slot counts this run as started, so a device lost during it does not run the
        // message forever. A message already run 1 + MAX_RETRIES times (by consumers that died holding it)
        // is not counted again: the kernel runs it no more and finishes it CONSUMER_DIED.
        if (wholeSlots && len * slotStride <= payloadBytes + len * (HEADER_BYTES + COPY_CALL_BYTES)) {
          records.set(u8.subarray(first, first + len * slotStride), n * stride);
          for (let j = 0, w = (first >> 2) + SlotHeader.ATTEMPTS; j < len; j++, w += slotStride >> 2) {
            const attempts = i32[w] as number;
            if (attempts < maxAttempts) i32[w] = attempts + 1;
          }
        } else {
          // Each message's ATTEMPTS right after its own copy, while its header is still in cache (with
          // large slots, a second pass over the run's headers would miss on every one).
          for (let j = 0, off = first; j < len; j++, off += slotStride) {
            const w = off >> 2;
            records.set(u8.subarray(off, off + HEADER_BYTES + (i32[w + SlotHeader.PAYLOAD_LEN] as number)), (n + j) * stride);
            const attempts = i32[w + SlotHeader.ATTEMPTS] as number;
            if (attempts < maxAttempts) i32[w + SlotHeader.ATTEMPTS] = attempts + 1;
          }
        }
        stage.runOffsets[stage.runCount] = first;
        stage.runLengths[stage.runCount] = len;
        stage.runCount++;
        n += len;
        cursor = (cursor + len) | 0;
        if (len < room) break; // the next slot is not READY yet
      }
      if (cursor !== start) {
        this.cursors[s] = cursor;
        Atomics.store(i32, shardWord(shard, ShardControl.CONSUMER_CURSOR), cursor);
      }
    }
    this.firstShard = (this.firstShard + 1) % shards.length;
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
      const id = this.o.ring.idAt(slotOfMessage(stage, j, this.o.ring.layout.slotStride));
      this.fail(new Error(`the crash handler killed the webgpu consumer on message ${id}: the device is lost on purpose`));
      this.o.loseDevice();
      return true;
    }
    return false;
  }

  /**
   * Writes each outcome into its slot, then DONE (the store releases the result); wakes the owner if it
   * sleeps. Per message: three header words, the result, one atomic store. A result of a few words is
   * copied word by word (no view allocated per message: a checksum's 4 bytes cost less than a `set()`
   * call); a longer one with one `set()`. Results cannot go back a run at a time: in the ring each result
   * area sits between two payloads.
   */
  private publish(stage: BatchStage, outcomes: Uint8Array): void {
    const { ring } = this.o;
    const { i32, u8, layout } = ring;
    const words = new Int32Array(outcomes.buffer, outcomes.byteOffset, outcomes.byteLength / 4);
    const stride = this.outcomeWords;
    const capacity = layout.resultBytes;
    const resultWord = layout.resultOffset >> 2;
    const slotWords = layout.slotStride >> 2;
    let rec = 0;
    for (let r = 0; r < stage.runCount; r++) {
      const runLength = stage.runLengths[r] as number;
      let w = (stage.runOffsets[r] as number) >> 2;
      for (let j = 0; j < runLength; j++, w += slotWords, rec += stride) {
        let status = words[rec + 1] as number;
        let len = words[rec + 2] as number;
        // A user handler may claim more than the area holds (or a negative i32, i.e. > 2 GiB): that is its
        // failure, never an overrun.
        if (status === HandlerStatus.OK && (len > capacity || len < 0)) {
          status = HandlerStatus.RESULT_TOO_LARGE;
          len = 0;
        }
        if (status !== HandlerStatus.OK) {
          len = 0;
        } else if (len <= WORD_COPY_MAX_BYTES) {
          // Whole words: the result area is padded to 16 bytes, so the bytes past `len` are the area's own.
          for (let q = 0, to = w + resultWord, from = rec + OUTCOME_HEADER_WORDS; q < len; q += 4) i32[to++] = words[from++] as number;
        } else {
          const from = (rec + OUTCOME_HEADER_WORDS) << 2;
          u8.set(outcomes.subarray(from, from + len), (w << 2) + layout.resultOffset);
        }
        i32[w + SlotHeader.ATTEMPTS] = words[rec] as number;
        i32[w + SlotHeader.HANDLER_STATUS] = status;
        i32[w + SlotHeader.RESULT_LEN] = len;
        // Release: the result and the fields above become visible with DONE.
        Atomics.store(i32, w + SlotHeader.STATE, SlotState.DONE);
      }
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

/** Byte offset in the ring of the batch's `j`-th message (slow paths only: it walks the runs). */
function slotOfMessage(stage: BatchStage, j: number, slotStride: number): number {
  let at = j;
  for (let r = 0; r < stage.runCount; r++) {
    const len = stage.runLengths[r] as number;
    if (at < len) return (stage.runOffsets[r] as number) + at * slotStride;
    at -= len;
  }
  throw new Error(`message ${j} is not in the batch`);
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
