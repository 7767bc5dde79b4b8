// The producer: checks payloads and keys, takes ids, picks a shard (by key, else round robin), claims
// slots and publishes them. Works on any thread that holds the ring. Waiting enqueues wait in one FIFO
// so a later call never overtakes an earlier one (per-key order holds while the queue is full).

import { type BatchPayloads, batchCount, type PackedPayloads, payloadAt } from './batch-payloads.js';
import { AbortedError, describeValue, InvalidArgumentError, QueueFullError, ShutdownError, TimeoutError } from './errors.js';
import { createPartitioner, hashKey, type Partitioner, type PartitionerSpec } from './partitioners.js';
import { Control } from './slot-layout.js';
import type { SlotRing } from './slot-ring.js';

export type MessageKey = string | number;

export interface EnqueueOptions {
  /** Messages with the same key complete in the order they were enqueued. */
  key?: MessageKey;
  /** How long to wait for space. **Default:** the queue's `enqueueTimeoutMs` */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface EnqueueBatchOptions {
  /** One key per payload (or undefined entries for unkeyed ones). */
  keys?: (MessageKey | undefined)[];
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Called once, synchronously, with the batch's first id as soon as its ids are taken (they are
   * consecutive), before any of its messages can complete: for callers that track messages by id and
   * must not miss a completion that arrives while the batch still waits for space. Not called when the
   * call fails its checks. **Default:** none
   */
  onIds?: (firstId: number) => void;
}

/**
 * Resolves when the harvester may have freed space, or after `ms` at most. `retry` tries the blocked
 * request once more and says whether it progressed: a waiter on another thread calls it after it has
 * counted itself as waiting, so a harvest in between is never missed.
 */
export type SpaceWait = (ms: number, retry: () => boolean) => Promise<void>;

const MAX_KEY_LENGTH = 1024;

const payloadName = (index: number | undefined): string => (index === undefined ? 'payload' : `payloads[${index}]`);

const OPTION_NAMES = { enqueue: ['key', 'timeoutMs', 'signal'], enqueueBatch: ['keys', 'timeoutMs', 'signal', 'onIds'] } as const;

/**
 * Refuses an options object with a name the call does not know, so a misspelt option is an error rather
 * than silently ignored (`key` on enqueueBatch would otherwise enqueue unkeyed, losing per-key order).
 */
export function checkEnqueueOptionNames(call: keyof typeof OPTION_NAMES, options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`${call} options must be an object; got ${describeValue(options)}`);
  }
  const allowed: readonly string[] = OPTION_NAMES[call];
  for (const name of Object.keys(options)) {
    if (allowed.includes(name)) continue;
    const hint = call === 'enqueueBatch' && name === 'key' ? ' (give keys: one key per payload, e.g. payloads.map(() => key))' : '';
    throw new InvalidArgumentError(`${call} has no option ${JSON.stringify(name)}${hint}; its options: ${allowed.join(', ')}`);
  }
}

interface Pending {
  payloads: BatchPayloads;
  keys: (MessageKey | undefined)[] | undefined;
  ids: number[];
  /** Unkeyed: every payload before this index is enqueued (they go in order). */
  next: number;
  /** Keyed: which payloads are enqueued (shards fill independently). */
  done: Uint8Array | undefined;
  left: number;
  resolve(ids: number[]): void;
  reject(error: Error): void;
}

export class Producer {
  private readonly ring: SlotRing;
  private readonly slotBytes: number;
  private readonly shards: number;
  private readonly partitioner: Partitioner;
  private nextShard: number;
  private readonly waiting: Pending[] = [];
  private readonly waitForSpace: SpaceWait;
  private pumping = false;

  constructor(ring: SlotRing, partitioner: PartitionerSpec, waitForSpace: SpaceWait, firstShard = 0) {
    this.ring = ring;
    this.slotBytes = ring.layout.slotBytes;
    this.shards = ring.layout.shards;
    this.partitioner = createPartitioner(partitioner, this.shards);
    this.nextShard = firstShard % this.shards;
    this.waitForSpace = waitForSpace;
  }

  // ---- checks ----

  /** Checks one payload; `index` names it in the error when it is one of a batch. */
  checkPayload(payload: unknown, index?: number): Uint8Array {
    if (!(payload instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${payloadName(index)} must be a Uint8Array or Buffer; got ${describeValue(payload)}`);
    }
    if (payload.byteLength > this.slotBytes) {
      throw new InvalidArgumentError(
        `${payloadName(index)} is ${payload.byteLength} bytes; the queue's slotBytes allows at most ${this.slotBytes}`,
      );
    }
    return payload;
  }

  /** Checks every payload of a batch given as views (the name of a bad one is built only when it is bad). */
  checkPayloads(payloads: readonly unknown[]): void {
    for (let i = 0; i < payloads.length; i++) this.checkPayload(payloads[i], i);
  }

  /**
   * Checks a packed batch: three typed arrays, as many starts as lengths, each payload inside `bytes` and
   * at most slotBytes. Returns it with `bytes` as a plain Uint8Array (views of a Buffer are slower to make).
   */
  checkPacked(packed: unknown): PackedPayloads {
    if (packed === null || typeof packed !== 'object') {
      throw new InvalidArgumentError(`payloads must be an array of Uint8Array; got ${describeValue(packed)}`);
    }
    const p = packed as Partial<PackedPayloads>;
    if (
      !(p.bytes instanceof Uint8Array) ||
      !(p.starts instanceof Uint32Array) ||
      !(p.lengths instanceof Uint32Array) ||
      p.starts.length !== p.lengths.length
    ) {
      throw new InvalidArgumentError(
        `payloads must be an array of Uint8Array, or { bytes: Uint8Array, starts: Uint32Array, lengths: Uint32Array } with as many starts as lengths; got ${describeValue(packed)}`,
      );
    }
    const { bytes, starts, lengths } = p;
    for (let i = 0; i < starts.length; i++) {
      const length = lengths[i] as number;
      if (length > this.slotBytes) {
        throw new InvalidArgumentError(`payload ${i} is ${length} bytes; the queue's slotBytes allows at most ${this.slotBytes}`);
      }
      if ((starts[i] as number) + length > bytes.byteLength) {
        throw new InvalidArgumentError(
          `payload ${i} (bytes ${starts[i]} to ${(starts[i] as number) + length}) ends past bytes (${bytes.byteLength})`,
        );
      }
    }
    const plain = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { bytes: plain, starts, lengths };
  }

  checkKey(key: unknown, where = 'key'): MessageKey | undefined {
    if (key === undefined) return undefined;
    if (typeof key === 'string' ? key.length > MAX_KEY_LENGTH : !(typeof key === 'number' && Number.isSafeInteger(key))) {
      throw new InvalidArgumentError(
        `${where} must be a string of at most ${MAX_KEY_LENGTH} characters or a safe integer; got ${describeValue(key)}`,
      );
    }
    return key as MessageKey;
  }

  private checkOpen(): void {
    if (this.ring.control(Control.CLOSED) === 1) throw new ShutdownError();
  }

  private shardOf(key: MessageKey | undefined, keyHash = key === undefined ? 0 : hashKey(key)): number {
    if (key === undefined) {
      const s = this.nextShard;
      this.nextShard = s + 1 === this.shards ? 0 : s + 1;
      return s;
    }
    return this.partitioner.partition(key, keyHash);
  }

  // ---- fail-fast ----

  /** Enqueues one message now or throws QueueFullError; returns its id. */
  tryEnqueue(payload: unknown, key?: unknown): number {
    const bytes = this.checkPayload(payload);
    const k = this.checkKey(key);
    this.checkOpen();
    if (this.waiting.length > 0) throw new QueueFullError(this.fullMessage('earlier enqueue calls are still waiting for space'));
    // A keyed message has one shard; an unkeyed one takes the first shard with room, round robin.
    const keyHash = k === undefined ? 0 : hashKey(k);
    let shard = this.shardOf(k, keyHash);
    let position = this.ring.claim(shard, 1);
    for (let tried = 1; position < 0 && k === undefined && tried < this.shards; tried++) {
      shard = this.shardOf(undefined);
      position = this.ring.claim(shard, 1);
    }
    if (position < 0)
      throw new QueueFullError(this.fullMessage(k === undefined ? 'every shard is full' : `shard ${shard}, where this key goes, is full`));
    const id = this.ring.takeIds(1);
    this.ring.write(shard, position, bytes, id, keyHash, k !== undefined, wallClockMs());
    this.ring.publish(shard, position, 1);
    return id;
  }

  private fullMessage(why: string): string {
    return `the queue is full (${this.ring.layout.shards * this.ring.layout.shardCapacity} messages: ${why}); wait, or harvest results`;
  }

  // ---- waiting ----

  /** Enqueues all payloads, waiting for space up to `timeoutMs`; resolves with their ids in payload order. */
  enqueueMany(
    payloads: BatchPayloads,
    keys: (MessageKey | undefined)[] | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
    onIds?: (firstId: number) => void,
  ): Promise<number[]> {
    this.checkOpen();
    if (signal?.aborted) return Promise.reject(new AbortedError('enqueue', signal.reason));
    const n = batchCount(payloads);
    const first = this.ring.takeIds(n);
    onIds?.(first);
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) ids[i] = first + i;
    return new Promise<number[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => settle(new AbortedError('enqueue', signal?.reason, enqueuedIds()));
      const enqueuedIds = () => (pending.done ? ids.filter((_, i) => pending.done?.[i] === 1) : ids.slice(0, pending.next));
      const settle = (error?: Error) => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = this.waiting.indexOf(pending);
        if (at >= 0) this.waiting.splice(at, 1);
        if (error) reject(error);
        else resolve(ids);
        if (at === 0) this.pump();
      };
      const pending: Pending = {
        payloads,
        keys,
        ids,
        next: 0,
        done: keys === undefined ? undefined : new Uint8Array(n),
        left: n,
        resolve: () => settle(),
        reject: (e) => settle(e),
      };
      this.waiting.push(pending);
      if (this.waiting.length === 1) this.fill(pending);
      if (pending.left === 0) {
        settle();
        return;
      }
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () =>
            settle(
              new TimeoutError(`enqueue waited ${timeoutMs} ms for space (${pending.left} of ${n} messages not enqueued)`, enqueuedIds()),
            ),
          timeoutMs,
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pump();
    });
  }

  /** Writes as many of the head request's messages as fit now. */
  private fill(p: Pending): void {
    const n = batchCount(p.payloads);
    const enqueuedAt = wallClockMs();
    if (p.done === undefined || p.keys === undefined) {
      // Unkeyed: contiguous runs spread over shards, starting where round robin points.
      let i = p.next;
      let tried = 0;
      const run = Math.max(32, Math.ceil(n / this.shards));
      while (i >= 0 && i < n && tried < this.shards) {
        const shard = this.shardOf(undefined);
        const want = Math.min(run, n - i);
        const free = Math.min(want, this.ring.freeSlots(shard));
        const position = free > 0 ? this.ring.claim(shard, free) : -1;
        if (position < 0) {
          tried++;
          continue;
        }
        tried = 0;
        // The batch's ids are consecutive, so this run's are p.ids[i] onwards.
        this.ring.writeRun(shard, position, p.payloads, i, free, p.ids[i] as number, enqueuedAt);
        p.left -= free;
        i += free;
        p.next = i;
      }
      return;
    }
    // Keyed: each shard takes its messages in payload order and stops at the first that does not fit.
    const blocked = new Array<boolean>(this.shards).fill(false);
    for (let i = 0; i < n; i++) {
      if (p.done[i] === 1) continue;
      const key: MessageKey | undefined = p.keys[i];
      const keyHash: number = key === undefined ? 0 : hashKey(key);
      const shard = key === undefined ? this.shardOf(undefined) : this.partitioner.partition(key, keyHash);
      if (blocked[shard]) continue;
      const position = this.ring.claim(shard, 1);
      if (position < 0) {
        if (key !== undefined) blocked[shard] = true;
        continue;
      }
      this.ring.write(shard, position, payloadAt(p.payloads, i), p.ids[i] as number, keyHash, key !== undefined, enqueuedAt);
      this.ring.publish(shard, position, 1);
      p.done[i] = 1;
      p.left--;
    }
  }

  /** Serves waiting requests in order while space appears. One pump runs at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiting.length > 0) {
        const head = this.waiting[0] as Pending;
        this.fill(head);
        if (head.left === 0) {
          head.resolve(head.ids);
          continue;
        }
        const before = head.left;
        await this.waitForSpace(50, () => {
          this.fill(head);
          return head.left < before;
        });
        if (this.ring.control(Control.CLOSED) === 1) {
          for (const p of this.waiting.splice(0)) p.reject(new ShutdownError('the queue shut down while this enqueue waited for space'));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Whether a message id belongs to a request still waiting for space here. */
  isWaiting(id: number): boolean {
    return this.waiting.some((p) => p.ids.includes(id));
  }

  /** Requests still waiting for space. */
  get waitingCount(): number {
    return this.waiting.length;
  }
}

/** The enqueue timestamp every thread agrees on (ms, sub-µs resolution). */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();
