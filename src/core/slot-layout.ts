// The byte layout of the shared slot ring: every offset, word index and state value lives here and only
// here. The same SharedArrayBuffer is read by JS worker threads (through Int32Array/Float64Array views)
// and by the CUDA kernel (registered as mapped pinned memory), so the layout is plain little-endian words,
// 8-byte aligned, with no JS objects in it. `src/engines/cuda/kernels/slot_layout.cuh` mirrors these
// numbers; a test compares the two files. docs/protocol.md explains the protocol.
//
//   [ control block | shard control × shards | consumer doorbell × consumers | states | headers | outcomes |
//     payloads | results ]   (the last five: one entry per slot, shard 0's slots first)
//
// A shard is a bounded ring with many producers, one consumer and one harvester (the owning thread).
// Positions are 32-bit counters that wrap; a slot's index is `position & (shardCapacity - 1)`.

export const RING_MAGIC = 0x47505551; // "GPUQ"
export const RING_LAYOUT_VERSION = 2;

/** Cache line, so words written by different parties never share one. */
export const LINE_BYTES = 64;

/** Int32 word indices of the control block (byte offset = index × 4). */
export const Control = {
  MAGIC: 0,
  LAYOUT_VERSION: 1,
  SHARDS: 2,
  SHARD_CAPACITY: 3,
  SLOT_BYTES: 4,
  RESULT_BYTES: 5,
  PAYLOAD_AREA: 6,
  MAX_RETRIES: 7,
  /** 1 once shutdown began: producers get SHUTDOWN. Written by the owner only. */
  CLOSED: 8,
  /**
   * 1 tells consumers to exit once they see it; 2 (ABORT, GPU engines) tells the cuda kernel to trap at
   * once, which is how the host ends a kernel stuck in a handler. Written by the owner only.
   */
  STOP: 9,
  /** 1 tells consumers to take no new slot. Written by the owner only. */
  PAUSED: 10,
  /** Bumped by consumers while alive; a watchdog reads its age. */
  HEARTBEAT: 11,
  /** 1 while the owner thread sleeps waiting for completions: a consumer that publishes DONE wakes it. */
  HARVEST_DOORBELL: 12,
  /** Bumped by the harvester after it frees slots; producers waiting for space `Atomics.wait` on it. */
  SPACE_DOORBELL: 13,
  /** How many producers wait on SPACE_DOORBELL, so the harvester only calls notify when someone waits. */
  SPACE_WAITERS: 14,
  /** Shared round-robin counter: producers on different threads spread unkeyed messages over shards. */
  ROUND_ROBIN: 15,
  /** How many consumers own shards (shard s belongs to consumer s % CONSUMERS). */
  CONSUMERS: 16,
  /**
   * Bumped by producers (by the count) after each run of READY stores: the cuda kernel's `watch` wake mode
   * polls this one word instead of every shard. On a line of its own (byte 192): producers write it often.
   */
  PUBLISHED: 48,
} as const;

/** Byte offset of the 64-bit message id counter (BigInt64Array index = this / 8). */
export const ID_COUNTER_BYTE = 128;
export const CONTROL_BYTES = 256;

/** Int32 word offsets inside one shard's control area; each party's words sit on a cache line of its own. */
export const ShardControl = {
  /** Next position a producer claims (compare-and-swap by producers). */
  HEAD: 0,
  /** Next position the consumer takes (written by the consumer; read for stats and recovery). */
  CONSUMER_CURSOR: LINE_BYTES / 4,
  /** Next position the harvester frees (written by the harvester; producers read it to know the space). */
  HARVEST_TAIL: (2 * LINE_BYTES) / 4,
} as const;
export const SHARD_CONTROL_BYTES = 3 * LINE_BYTES;
/**
 * One line per consumer: word 0 is 1 while that consumer sleeps in `Atomics.wait` on it; a producer that
 * publishes READY in one of its shards sets it to 0 and notifies. (A consumer owns several shards but
 * can wait on one word only, hence a doorbell per consumer rather than per shard.)
 */
export const CONSUMER_DOORBELL_BYTES = LINE_BYTES;

/**
 * Slot states. EMPTY (a fresh ring) → READY (producer) → INFLIGHT (consumer) → DONE or DONE_ODD_LAP
 * (consumer) → READY (a producer, next lap). The harvester never stores a state: DONE carries the lap's
 * parity (`doneState`), so a freed slot's last-lap DONE never passes for this lap's.
 */
export const SlotState = {
  EMPTY: 0,
  READY: 1,
  INFLIGHT: 2,
  /** Finished, on an even lap of the shard (position & shardCapacity = 0). */
  DONE: 3,
  /** Finished, on an odd lap. */
  DONE_ODD_LAP: 4,
} as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

/**
 * The DONE a consumer stores for the message at `position`: the lap's parity is `position & shardCapacity`
 * (shardCapacity is a power of two, and 2³² a multiple of it, so laps alternate across the counter's wrap).
 */
export const doneState = (shardCapacity: number, position: number): number =>
  (position & shardCapacity) === 0 ? SlotState.DONE : SlotState.DONE_ODD_LAP;

// A slot's fields live in five arrays, one entry per slot, each array written by one party (states aside),
// so a cache line carries the same field of consecutive slots: 16 states, 2 headers, 4 outcomes, and a
// run's payloads (or results) are one contiguous range. The harvester reads 1/16 of a state line, half a
// header line and a quarter of an outcome line per message instead of whole slot lines
// (bench/harvest-probe.mjs: 21-28 ns vs 50-74 ns per message on the H100 host), and a GPU consumer
// stages a run's payloads with contiguous loads.

/** Int32 word indices inside a slot header (written by the producer only). */
export const SlotHeader = {
  FLAGS: 0,
  PAYLOAD_LEN: 1,
  ID_LO: 2,
  ID_HI: 3,
  KEY_HASH: 4,
} as const;
/** Byte offset inside the header of the enqueue time (float64, ms on the shared wall clock). */
export const ENQUEUED_AT_BYTE = 24;
export const HEADER_BYTES = 32;
export const SlotFlag = { HAS_KEY: 1 } as const;

/**
 * Int32 word indices inside a slot outcome (written by the consumer; the producer stores ATTEMPTS = 0
 * with the header, so a new message starts counting from 0).
 */
export const SlotOutcome = {
  /** How many times the handler ran (stored before each run, so a re-run after a consumer died counts on). */
  ATTEMPTS: 0,
  /** Bytes of result. */
  RESULT_LEN: 1,
  /** The handler's status on its last attempt (0 = OK). */
  HANDLER_STATUS: 2,
} as const;
export const OUTCOME_BYTES = 16;

/** Payload and result areas are padded to 16 bytes so GPU threads can read them with 16-byte loads. */
export const AREA_ALIGN = 16;

export interface RingGeometry {
  shards: number;
  consumers: number;
  shardCapacity: number;
  slotBytes: number;
  resultBytes: number;
}

export interface RingLayout extends RingGeometry {
  /** Slots in the ring: shards × shardCapacity. Slot `shard × shardCapacity + index` is a shard's slot `index`. */
  slots: number;
  /** Bytes per slot of the payload and result arrays (slotBytes and resultBytes rounded up to AREA_ALIGN). */
  payloadArea: number;
  resultArea: number;
  /** Byte offsets of the five per-slot arrays, each on a cache line of its own. */
  statesOffset: number;
  headersOffset: number;
  outcomesOffset: number;
  payloadsOffset: number;
  resultsOffset: number;
  totalBytes: number;
}

export const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export function computeLayout(g: RingGeometry): RingLayout {
  const slots = g.shards * g.shardCapacity;
  const payloadArea = alignUp(g.slotBytes, AREA_ALIGN);
  const resultArea = alignUp(g.resultBytes, AREA_ALIGN);
  const statesOffset = alignUp(CONTROL_BYTES + g.shards * SHARD_CONTROL_BYTES + g.consumers * CONSUMER_DOORBELL_BYTES, LINE_BYTES);
  const headersOffset = alignUp(statesOffset + slots * 4, LINE_BYTES);
  const outcomesOffset = alignUp(headersOffset + slots * HEADER_BYTES, LINE_BYTES);
  const payloadsOffset = alignUp(outcomesOffset + slots * OUTCOME_BYTES, LINE_BYTES);
  const resultsOffset = alignUp(payloadsOffset + slots * payloadArea, LINE_BYTES);
  return {
    ...g,
    slots,
    payloadArea,
    resultArea,
    statesOffset,
    headersOffset,
    outcomesOffset,
    payloadsOffset,
    resultsOffset,
    totalBytes: alignUp(resultsOffset + slots * resultArea, LINE_BYTES),
  };
}

/** Int32 index of a shard's control word. */
export const shardWord = (shard: number, word: number): number => (CONTROL_BYTES + shard * SHARD_CONTROL_BYTES) / 4 + word;

/** Int32 index of the doorbell of the consumer that owns a shard. */
export const consumerDoorbellWord = (layout: RingLayout, shard: number): number =>
  (CONTROL_BYTES + layout.shards * SHARD_CONTROL_BYTES + (shard % layout.consumers) * CONSUMER_DOORBELL_BYTES) / 4;

/** The ring-wide number of a shard's slot: `position` may be any wrapped 32-bit position of that shard. */
export const slotOf = (layout: RingLayout, shard: number, position: number): number =>
  shard * layout.shardCapacity + (position & (layout.shardCapacity - 1));

/** Int32 index of a slot's state. */
export const stateWord = (layout: RingLayout, slot: number): number => (layout.statesOffset >> 2) + slot;

/** Int32 index of a slot's header (add a SlotHeader word). */
export const headerWord = (layout: RingLayout, slot: number): number => (layout.headersOffset + slot * HEADER_BYTES) >> 2;

/** Float64 index of a slot's enqueue time. */
export const enqueuedAtIndex = (layout: RingLayout, slot: number): number =>
  (layout.headersOffset + slot * HEADER_BYTES + ENQUEUED_AT_BYTE) >> 3;

/** Int32 index of a slot's outcome (add a SlotOutcome word). */
export const outcomeWord = (layout: RingLayout, slot: number): number => (layout.outcomesOffset + slot * OUTCOME_BYTES) >> 2;

/** Byte offset of a slot's payload area. */
export const payloadByte = (layout: RingLayout, slot: number): number => layout.payloadsOffset + slot * layout.payloadArea;

/** Byte offset of a slot's result area. */
export const resultByte = (layout: RingLayout, slot: number): number => layout.resultsOffset + slot * layout.resultArea;
