// The webgpu engine's consumer loop, on the thread that owns the device: it takes the READY slots of its
// shards in position order into a batch (READY → INFLIGHT, runs of contiguous slots staged from the
// ring's arrays: docs/architecture.md, "The webgpu engine's data path"), runs the batch through the
// kernel while it gathers the next, and publishes each batch's outcomes into the ring (results, then
// ATTEMPTS, RESULT_LEN, HANDLER_STATUS, then DONE). It never blocks: it waits on promises (the GPU's,
// Atomics.waitAsync on its doorbell, a turn of the event loop).
//
// Batch size adapts by itself: a batch is sent as soon as a stage is free, so a lone message goes at once
// (latency); while every stage is in flight, READY slots pile up and the next batch takes them all, up to
// the stage's capacity, which doubles whenever a batch fills it (throughput).
import { HandlerStatus } from '../../core/handler-status.js';
import {
  Control,
  consumerDoorbellWord,
  doneState,
  HEADER_BYTES,
  headerWord,
  OUTCOME_BYTES,
  outcomeWord,
  payloadByte,
  resultByte,
  ShardControl,
  SlotHeader,
  SlotOutcome,
  SlotState,
  shardWord,
  slotOf,
  stateWord,
} from '../../core/slot-layout.js';
import type { SlotRing } from '../../core/slot-ring.js';
import { type BatchStage, MESSAGE_RECORD_BYTES, MessageRecord } from './batch-stage.js';
import type { GpuComputePipeline } from './gpu-api.js';
import { OUTCOME_KILLED_CONSUMER } from './kernel-source.js';

/** Longest doorbell or pause sleep before looking again without a wake-up (a safety net). */
const SLEEP_CHECK_MS = 100;
/** Payloads and results up to this many bytes are copied word by word, longer ones with one `set()`. */
const WORD_COPY_MAX_BYTES = 64;
/**
 * What copying one message on its own (a `subarray()` view and a `set()`) costs beyond its bytes, in
 * bytes copied in the same time: on the order of 100 ns, against ~5 GB/s for a copy on one core
 * (bench/webgpu-host.mjs; bench/results/2026-11-24-webgpu-lavapipe-tuned.json). A run's payloads (or
 * results) are copied with one call, areas whole, unless the bytes actually used are so much fewer that
 * one copy per message moves fewer bytes with this added per message.
 */
const COPY_CALL_BYTES = 512;
const HEADER_WORDS = HEADER_BYTES / 4;
const OUTCOME_WORDS = OUTCOME_BYTES / 4;
const RECORD_WORDS = MESSAGE_RECORD_BYTES / 4;

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
    this.cursors = shards.map((s) => ring.resumeShard(s));
    this.doorbells = [...new Set(shards.map((s) => consumerDoorbellWord(ring.layout, s)))];
    this.maxAttempts = 1 + ring.control(Control.MAX_RETRIES);
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
   * READY → INFLIGHT, and the batch recorded as runs of contiguous slots (a shard's slots are consecutive
   * in every per-slot array until its ring wraps). Per message, a record of its payload length, id and
   * ATTEMPTS as it was, after which the slot counts this run as started; per run, one copy of its
   * payloads (or one per message when the payloads are far shorter than their areas). Returns the count.
   */
  private gather(stage: BatchStage): number {
    const { ring, shards } = this.o;
    const { i32, u8, layout } = ring;
    const { shardCapacity, payloadArea } = layout;
    const maxAttempts = this.maxAttempts;
    let staged: ReturnType<BatchStage['staging']> | undefined;
    let n = 0;
    for (let k = 0; k < shards.length && n < stage.capacity; k++) {
      const s = (this.firstShard + k) % shards.length;
      const shard = shards[s] as number;
      let cursor = this.cursors[s] as number;
      const start = cursor;
      while (n < stage.capacity) {
        // One run: contiguous slots from the cursor, up to the shard's wrap or the stage's room.
        const first = slotOf(layout, shard, cursor);
        const room = Math.min(stage.capacity - n, shardCapacity - (cursor & (shardCapacity - 1)));
        if (Atomics.load(i32, stateWord(layout, first)) !== SlotState.READY) break; // before staging memory is made
        staged ??= stage.staging();
        const messages = staged.messages;
        let len = 0;
        let payloadBytes = 0;
        // The record keeps ATTEMPTS as it was; then the slot counts this run as started, so a device lost
        // during it does not run the message forever. A message already run 1 + MAX_RETRIES times (by
        // consumers that died holding it) is not counted again: the kernel runs it no more and finishes it
        // CONSUMER_DIED.
        for (
          let st = stateWord(layout, first),
            h = headerWord(layout, first),
            o = outcomeWord(layout, first) + SlotOutcome.ATTEMPTS,
            r = n * RECORD_WORDS;
          len < room;
          len++, st++, h += HEADER_WORDS, o += OUTCOME_WORDS, r += RECORD_WORDS
        ) {
          // Acquire: READY was stored after the header and payload were written.
          if (Atomics.load(i32, st) !== SlotState.READY) break;
          Atomics.store(i32, st, SlotState.INFLIGHT);
          const payloadLen = i32[h + SlotHeader.PAYLOAD_LEN] as number;
          const attempts = i32[o] as number;
          messages[r + MessageRecord.PAYLOAD_LEN] = payloadLen;
          messages[r + MessageRecord.ID_LO] = i32[h + SlotHeader.ID_LO] as number;
          messages[r + MessageRecord.ID_HI] = i32[h + SlotHeader.ID_HI] as number;
          messages[r + MessageRecord.ATTEMPTS] = attempts;
          if (attempts < maxAttempts) i32[o] = attempts + 1;
          payloadBytes += payloadLen;
        }
        if (len === 0) break;
        // The run's payloads are one range of the ring's payload array, laid out as the stage wants them.
        const from = payloadByte(layout, first);
        if (len * payloadArea <= payloadBytes + len * COPY_CALL_BYTES) {
          staged.payloads.set(u8.subarray(from, from + len * payloadArea), n * payloadArea);
        } else {
          const words = staged.payloadWords;
          for (let j = 0, off = from, r = n * RECORD_WORDS; j < len; j++, off += payloadArea, r += RECORD_WORDS) {
            const bytes = messages[r + MessageRecord.PAYLOAD_LEN] as number;
            const to = (n + j) * payloadArea;
            if (bytes <= WORD_COPY_MAX_BYTES) {
              // Whole words: the payload area is padded to 16 bytes, so the bytes past `bytes` are its own.
              for (let q = 0, a = off >> 2, b = to >> 2; q < bytes; q += 4) words[b++] = i32[a++] as number;
            } else {
              staged.payloads.set(u8.subarray(off, off + bytes), to);
            }
          }
        }
        stage.runSlots[stage.runCount] = first;
        stage.runLengths[stage.runCount] = len;
        stage.runDone[stage.runCount] = doneState(layout.shardCapacity, cursor);
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
    const words = new Int32Array(outcomes.buffer, outcomes.byteOffset, stage.count * OUTCOME_WORDS);
    let most = 0;
    for (let j = 0; j < stage.count; j++) most = Math.max(most, words[j * OUTCOME_WORDS + SlotOutcome.ATTEMPTS] as number);
    const until = stage.submittedAt + this.o.holdMsPerAttempt * most;
    while (performance.now() < until) await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - performance.now())));
  }

  /**
   * The crash wrapper fired on a message of the batch: the consumer dies as a crashing cpu worker would,
   * publishing nothing of the batch (its messages stay INFLIGHT, their ATTEMPTS counted, to run elsewhere).
   */
  private killedBy(stage: BatchStage, outcomes: Uint8Array): boolean {
    const words = new Uint32Array(outcomes.buffer, outcomes.byteOffset, stage.count * OUTCOME_WORDS);
    for (let j = 0; j < stage.count; j++) {
      if (words[j * OUTCOME_WORDS + SlotOutcome.HANDLER_STATUS] !== OUTCOME_KILLED_CONSUMER) continue;
      const id = this.o.ring.idAt(slotOfMessage(stage, j));
      this.fail(new Error(`the crash handler killed the webgpu consumer on message ${id}: the device is lost on purpose`));
      this.o.loseDevice();
      return true;
    }
    return false;
  }

  /**
   * Writes the outcomes into the ring, a run at a time, then DONE per slot in position order (each store
   * releases its slot's outcome and result); wakes the owner if it sleeps. A run's slots are consecutive in
   * every per-slot array and the readback is laid out as the ring is, so per run: one copy of its results
   * (or, when the result areas are large and the results far shorter, one per message of what each holds),
   * one copy of its outcomes (ATTEMPTS, RESULT_LEN, HANDLER_STATUS: the kernel already turned a result too
   * large for the area into RESULT_TOO_LARGE), then one atomic store per message.
   */
  private publish(stage: BatchStage, readback: Uint8Array): void {
    const { ring } = this.o;
    const { i32, u8, layout } = ring;
    const { resultArea } = layout;
    const count = stage.count;
    const words = new Int32Array(readback.buffer, readback.byteOffset, count * OUTCOME_WORDS);
    const resultsAt = readback.byteOffset + count * OUTCOME_BYTES;
    const results = new Uint8Array(readback.buffer, resultsAt, count * resultArea);
    const resultWords = new Int32Array(readback.buffer, resultsAt, (count * resultArea) / 4);
    const capacity = layout.resultBytes;
    let n = 0;
    for (let r = 0; r < stage.runCount; r++) {
      const first = stage.runSlots[r] as number;
      const len = stage.runLengths[r] as number;
      const done = stage.runDone[r] as number;
      const rec = n * OUTCOME_WORDS;
      if (resultArea > 0) {
        // One copy of the run's result areas, unless they are large and what they hold far less.
        let used = 0;
        if (resultArea > COPY_CALL_BYTES) {
          for (let j = 0, w = rec + SlotOutcome.RESULT_LEN; j < len; j++, w += OUTCOME_WORDS) used += words[w] as number;
        }
        const to = resultByte(layout, first);
        if (resultArea <= COPY_CALL_BYTES || len * resultArea <= used + len * COPY_CALL_BYTES) {
          u8.set(results.subarray(n * resultArea, (n + len) * resultArea), to);
        } else {
          for (let j = 0, w = rec + SlotOutcome.RESULT_LEN; j < len; j++, w += OUTCOME_WORDS) {
            const bytes = words[w] as number;
            if (bytes <= 0 || bytes > capacity) continue;
            const from = (n + j) * resultArea;
            if (bytes <= WORD_COPY_MAX_BYTES) {
              // Whole words: the result area is padded to 16 bytes, so the bytes past `bytes` are the area's own.
              for (let q = 0, a = (to + j * resultArea) >> 2, b = from >> 2; q < bytes; q += 4) i32[a++] = resultWords[b++] as number;
            } else {
              u8.set(results.subarray(from, from + bytes), to + j * resultArea);
            }
          }
        }
      }
      i32.set(words.subarray(rec, rec + len * OUTCOME_WORDS), outcomeWord(layout, first));
      for (let j = 0, st = stateWord(layout, first), w = rec; j < len; j++, st++, w += OUTCOME_WORDS) {
        // The kernel keeps RESULT_LEN within the area; a bad one would be a bug here, never a read past it.
        if ((words[w + SlotOutcome.RESULT_LEN] as number) >>> 0 > capacity) {
          const o = outcomeWord(layout, first + j);
          i32[o + SlotOutcome.HANDLER_STATUS] = HandlerStatus.RESULT_TOO_LARGE;
          i32[o + SlotOutcome.RESULT_LEN] = 0;
        }
        // Release: the result and the outcome above become visible with DONE.
        Atomics.store(i32, st, done);
      }
      n += len;
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

/** The ring slot number of the batch's `j`-th message (slow paths only: it walks the runs). */
function slotOfMessage(stage: BatchStage, j: number): number {
  let at = j;
  for (let r = 0; r < stage.runCount; r++) {
    const len = stage.runLengths[r] as number;
    if (at < len) return (stage.runSlots[r] as number) + at;
    at -= len;
  }
  throw new Error(`message ${j} is not in the batch`);
}
