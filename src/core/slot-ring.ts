// The shared slot ring: views over one SharedArrayBuffer and the three roles' operations on it —
// producers claim and publish slots (any thread), one consumer per shard runs them (an engine), and the
// owner thread harvests DONE slots in position order and frees them. Layout: slot-layout.ts; protocol
// and fences: docs/protocol.md. JS Atomics are sequentially consistent, so a plain write followed by an
// atomic store is visible to any thread whose atomic load sees that store.

import { type BatchPayloads, type PackedPayloads, payloadAt } from './batch-payloads.js';
import {
  CONTROL_BYTES,
  Control,
  computeLayout,
  consumerDoorbellWord,
  doneState,
  enqueuedAtIndex,
  headerWord,
  ID_COUNTER_BYTE,
  outcomeWord,
  payloadByte,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  type RingGeometry,
  type RingLayout,
  resultByte,
  ShardControl,
  SlotFlag,
  SlotHeader,
  SlotOutcome,
  SlotState,
  shardWord,
  slotOf,
  stateWord,
} from './slot-layout.js';

/** Packed payloads up to this size are copied byte by byte: cheaper than making a view to `set` from. */
const SMALL_COPY_BYTES = 32;

export class SlotRing {
  readonly sab: SharedArrayBuffer;
  readonly layout: RingLayout;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  private readonly ids: BigInt64Array;

  private constructor(sab: SharedArrayBuffer, layout: RingLayout) {
    this.sab = sab;
    this.layout = layout;
    this.i32 = new Int32Array(sab);
    this.u8 = new Uint8Array(sab);
    this.f32 = new Float32Array(sab);
    this.f64 = new Float64Array(sab);
    this.ids = new BigInt64Array(sab, ID_COUNTER_BYTE, 1);
  }

  /** A new ring; every slot EMPTY (a fresh SharedArrayBuffer is zeroed), ids start at 1. */
  static create(geometry: RingGeometry, maxRetries: number): SlotRing {
    const layout = computeLayout(geometry);
    const ring = new SlotRing(new SharedArrayBuffer(layout.totalBytes), layout);
    const c = ring.i32;
    c[Control.MAGIC] = RING_MAGIC;
    c[Control.LAYOUT_VERSION] = RING_LAYOUT_VERSION;
    c[Control.SHARDS] = geometry.shards;
    c[Control.CONSUMERS] = geometry.consumers;
    c[Control.SHARD_CAPACITY] = geometry.shardCapacity;
    c[Control.SLOT_BYTES] = geometry.slotBytes;
    c[Control.RESULT_BYTES] = geometry.resultBytes;
    c[Control.PAYLOAD_AREA] = layout.payloadArea;
    c[Control.MAX_RETRIES] = maxRetries;
    ring.ids[0] = 1n;
    return ring;
  }

  /** Views over a ring another thread created (a producer or consumer thread gets only the buffer). */
  static attach(sab: SharedArrayBuffer): SlotRing {
    const c = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    if (c[Control.MAGIC] !== RING_MAGIC || c[Control.LAYOUT_VERSION] !== RING_LAYOUT_VERSION) {
      throw new Error('not a gpuqueue ring of this version');
    }
    const layout = computeLayout({
      shards: c[Control.SHARDS] as number,
      consumers: c[Control.CONSUMERS] as number,
      shardCapacity: c[Control.SHARD_CAPACITY] as number,
      slotBytes: c[Control.SLOT_BYTES] as number,
      resultBytes: c[Control.RESULT_BYTES] as number,
    });
    return new SlotRing(sab, layout);
  }

  // ---- control words ----

  control(word: number): number {
    return Atomics.load(this.i32, word);
  }

  setControl(word: number, value: number): void {
    Atomics.store(this.i32, word, value);
  }

  /** Reserves `n` consecutive message ids; returns the first. Ids only grow, across all threads. */
  takeIds(n: number): number {
    return Number(Atomics.add(this.ids, 0, BigInt(n)));
  }

  /** The next id that will be issued (every id below it was handed out). */
  peekNextId(): number {
    return Number(Atomics.load(this.ids, 0));
  }

  // ---- producer side ----

  /**
   * Claims `n` consecutive positions of a shard and returns the first as an unsigned 32-bit number
   * (HEAD is an int32 that wraps: past 2³¹ it reads negative, and -1 is the answer for "fewer than `n`
   * are free"). The CAS on HEAD orders producers; reading HARVEST_TAIL (an atomic load after the
   * harvester's atomic store) guarantees nobody reads the slots it freed before we write them.
   */
  claim(shard: number, n: number): number {
    const headIdx = shardWord(shard, ShardControl.HEAD);
    const tailIdx = shardWord(shard, ShardControl.HARVEST_TAIL);
    const capacity = this.layout.shardCapacity;
    for (;;) {
      const head = Atomics.load(this.i32, headIdx);
      const tail = Atomics.load(this.i32, tailIdx);
      if (((head - tail) | 0) + n > capacity) return -1;
      if (Atomics.compareExchange(this.i32, headIdx, head, (head + n) | 0) === head) return head >>> 0;
    }
  }

  /** Free slots of a shard right now. */
  freeSlots(shard: number): number {
    const head = Atomics.load(this.i32, shardWord(shard, ShardControl.HEAD));
    const tail = Atomics.load(this.i32, shardWord(shard, ShardControl.HARVEST_TAIL));
    return this.layout.shardCapacity - ((head - tail) | 0);
  }

  /** Writes a claimed slot's header and payload (plain writes: `publish` makes them visible). */
  write(shard: number, position: number, payload: Uint8Array, id: number, keyHash: number, hasKey: boolean, enqueuedAt: number): void {
    const slot = slotOf(this.layout, shard, position);
    this.writeHeader(slot, payload.byteLength, id, keyHash, hasKey, enqueuedAt);
    this.u8.set(payload, payloadByte(this.layout, slot));
  }

  /** The header a producer writes into a claimed slot (plain writes: `publish` makes them visible). */
  private writeHeader(slot: number, len: number, id: number, keyHash: number, hasKey: boolean, enqueuedAt: number): void {
    const w = headerWord(this.layout, slot);
    const i32 = this.i32;
    i32[w + SlotHeader.FLAGS] = hasKey ? SlotFlag.HAS_KEY : 0;
    i32[w + SlotHeader.PAYLOAD_LEN] = len;
    i32[w + SlotHeader.ID_LO] = id >>> 0;
    i32[w + SlotHeader.ID_HI] = Math.floor(id / 4294967296);
    i32[w + SlotHeader.KEY_HASH] = keyHash | 0;
    this.f64[enqueuedAtIndex(this.layout, slot)] = enqueuedAt;
    i32[outcomeWord(this.layout, slot) + SlotOutcome.ATTEMPTS] = 0;
  }

  /**
   * Writes payloads [from, from + n) of a batch, unkeyed, with ids firstId, firstId + 1, …, into claimed
   * positions [position, position + n) of a shard, then publishes them: `write` then `publish` for a
   * whole run, the offsets stepped rather than recomputed (this loop is the batch path's cost).
   */
  writeRun(shard: number, position: number, payloads: BatchPayloads, from: number, n: number, firstId: number, enqueuedAt: number): void {
    const { u8, layout } = this;
    const { shardCapacity } = layout;
    const mask = shardCapacity - 1;
    const shardSlot = shard * shardCapacity;
    const views = Array.isArray(payloads) ? payloads : undefined;
    const packed = Array.isArray(payloads) ? undefined : payloads;
    let index = position & mask;
    for (let j = 0; j < n; j++) {
      const slot = shardSlot + index;
      const at = payloadByte(layout, slot);
      let len: number;
      if (views !== undefined) {
        const payload = views[from + j] as Uint8Array;
        len = payload.byteLength;
        u8.set(payload, at);
      } else {
        const p = packed as PackedPayloads;
        const start = p.starts[from + j] as number;
        len = p.lengths[from + j] as number;
        if (len <= SMALL_COPY_BYTES) {
          const bytes = p.bytes;
          for (let b = 0; b < len; b++) u8[at + b] = bytes[start + b] as number;
        } else u8.set(payloadAt(p, from + j), at);
      }
      this.writeHeader(slot, len, firstId + j, 0, false, enqueuedAt);
      index = (index + 1) & mask;
    }
    this.publish(shard, position, n);
  }

  /**
   * Publishes written slots [position, position + n) as READY, then wakes the shard's consumer if it
   * sleeps. Order: the READY store releases the payload; the doorbell load comes after it, so either the
   * consumer's re-check (after it set the doorbell) sees READY or we see the doorbell and notify.
   */
  publish(shard: number, position: number, n: number): void {
    const { i32, layout } = this;
    const mask = layout.shardCapacity - 1;
    const shardStates = stateWord(layout, shard * layout.shardCapacity);
    let index = position & mask;
    for (let i = 0; i < n; i++) {
      Atomics.store(i32, shardStates + index, SlotState.READY);
      index = (index + 1) & mask;
    }
    Atomics.add(i32, Control.PUBLISHED, n);
    const bell = consumerDoorbellWord(layout, shard);
    if (Atomics.load(i32, bell) === 1) {
      Atomics.store(i32, bell, 0);
      Atomics.notify(i32, bell);
    }
  }

  // ---- owner (harvester) side ----

  /** Messages in a shard not yet harvested (queued, in flight, or done and waiting). */
  depth(shard: number): number {
    return this.layout.shardCapacity - this.freeSlots(shard);
  }

  totalDepth(): number {
    let d = 0;
    for (let s = 0; s < this.layout.shards; s++) d += this.depth(s);
    return d;
  }

  /** Position of the next slot to harvest in a shard. */
  harvestTail(shard: number): number {
    return Atomics.load(this.i32, shardWord(shard, ShardControl.HARVEST_TAIL));
  }

  /**
   * Every claimed slot not yet harvested that holds a published message (READY, INFLIGHT or this lap's
   * DONE: a slot claimed but not yet published still shows its last lap's state), shard by shard in
   * position order (slow paths only).
   */
  *unharvestedSlots(): Generator<number> {
    for (let s = 0; s < this.layout.shards; s++) {
      const tail = this.harvestTail(s);
      const depth = this.depth(s);
      for (let i = 0; i < depth; i++) {
        const position = (tail + i) | 0;
        const state = this.stateAt(s, position);
        if (state === SlotState.READY || state === SlotState.INFLIGHT || state === doneState(this.layout.shardCapacity, position)) {
          yield slotOf(this.layout, s, position);
        }
      }
    }
  }

  /** The state of the slot at a position (an acquire: when DONE, its result is visible). */
  stateAt(shard: number, position: number): number {
    return Atomics.load(this.i32, stateWord(this.layout, slotOf(this.layout, shard, position)));
  }

  /** Whether the message at a position is finished (this lap's DONE; an acquire: its result is visible). */
  doneAt(shard: number, position: number): boolean {
    return this.stateAt(shard, position) === doneState(this.layout.shardCapacity, position);
  }

  /**
   * Where a consumer taking over a shard starts (every engine's consumer calls it): the first position
   * after HARVEST_TAIL that is not this lap's DONE (every one before it is finished), stored as the
   * shard's CONSUMER_CURSOR. A slot left INFLIGHT by a consumer that died is made READY again, so it runs
   * once more (at-least-once). A fresh ring gives position 0.
   */
  resumeShard(shard: number): number {
    const { i32, layout } = this;
    const head = Atomics.load(i32, shardWord(shard, ShardControl.HEAD));
    let p = this.harvestTail(shard);
    while (p !== head && this.doneAt(shard, p)) p = (p + 1) | 0;
    for (let q = p; q !== head; q = (q + 1) | 0) {
      const state = stateWord(layout, slotOf(layout, shard, q));
      if (Atomics.load(i32, state) === SlotState.INFLIGHT) Atomics.store(i32, state, SlotState.READY);
    }
    Atomics.store(i32, shardWord(shard, ShardControl.CONSUMER_CURSOR), p);
    return p;
  }

  /**
   * How many slots from a shard's harvest tail are DONE, up to `max`: the run `harvest` may take next. The
   * loads are acquires, so the results of the slots counted are visible to this thread.
   */
  doneRun(shard: number, max: number): number {
    const { i32, layout } = this;
    const { shardCapacity } = layout;
    const mask = shardCapacity - 1;
    const shardStates = stateWord(layout, shard * shardCapacity);
    const tail = Atomics.load(i32, shardWord(shard, ShardControl.HARVEST_TAIL));
    // Never past one lap: every slot of a full shard may be DONE, and nothing here marks them seen.
    const limit = Math.min(max, shardCapacity);
    // DONE carries the lap's parity, which flips where the run crosses the end of the shard.
    let index = tail & mask;
    let done = doneState(shardCapacity, tail);
    let n = 0;
    while (n < limit && Atomics.load(i32, shardStates + index) === done) {
      n++;
      index = (index + 1) & mask;
      if (index === 0) done = doneState(shardCapacity, (tail + n) | 0);
    }
    return n;
  }

  /**
   * Frees the `n` slots at a shard's harvest tail (they were read) by publishing the new HARVEST_TAIL,
   * which is what lets producers reuse them. Nothing is stored in the slots: they keep this lap's DONE,
   * which the next lap's check does not match. Call `wakeSpaceWaiters` once after a pass.
   */
  release(shard: number, n: number): void {
    if (n <= 0) return;
    const tailIdx = shardWord(shard, ShardControl.HARVEST_TAIL);
    Atomics.store(this.i32, tailIdx, (Atomics.load(this.i32, tailIdx) + n) | 0);
  }

  /**
   * Wakes producer threads waiting for space (RemoteProducer), if any wait: once per harvest pass, not
   * per shard run (a notify is a system call, on the owner thread).
   */
  wakeSpaceWaiters(): void {
    const { i32 } = this;
    if (Atomics.load(i32, Control.SPACE_WAITERS) > 0) {
      Atomics.add(i32, Control.SPACE_DOORBELL, 1);
      Atomics.notify(i32, Control.SPACE_DOORBELL);
    }
  }

  /**
   * Hands DONE slots of a shard to `visit`, in position order, stopping at the first slot not DONE (this
   * is what makes per-key completions FIFO) or after `max`, then frees them (`release`; the caller wakes
   * space waiters once its pass is over). Returns how many were harvested.
   */
  harvest(shard: number, max: number, visit: (slot: number) => void): number {
    const n = this.doneRun(shard, max);
    const tail = this.harvestTail(shard);
    for (let i = 0; i < n; i++) visit(slotOf(this.layout, shard, (tail + i) | 0));
    this.release(shard, n);
    return n;
  }

  // ---- slot field readers (a slot's ring-wide number, from `slotOf`) ----

  stateOf(slot: number): number {
    return Atomics.load(this.i32, stateWord(this.layout, slot));
  }

  idAt(slot: number): number {
    const w = headerWord(this.layout, slot);
    return (this.i32[w + SlotHeader.ID_HI] as number) * 4294967296 + ((this.i32[w + SlotHeader.ID_LO] as number) >>> 0);
  }

  /** A header word (SlotHeader). */
  header(slot: number, word: number): number {
    return this.i32[headerWord(this.layout, slot) + word] as number;
  }

  /** An outcome word (SlotOutcome). */
  outcome(slot: number, word: number): number {
    return this.i32[outcomeWord(this.layout, slot) + word] as number;
  }

  enqueuedAt(slot: number): number {
    return this.f64[enqueuedAtIndex(this.layout, slot)] as number;
  }

  payloadAt(slot: number): Uint8Array {
    const from = payloadByte(this.layout, slot);
    return this.u8.subarray(from, from + (this.header(slot, SlotHeader.PAYLOAD_LEN) >>> 0));
  }

  resultAt(slot: number): Uint8Array {
    const from = resultByte(this.layout, slot);
    return this.u8.subarray(from, from + (this.outcome(slot, SlotOutcome.RESULT_LEN) >>> 0));
  }
}
