// The unread results of one served queue, oldest first, kept as columns of typed arrays plus one byte
// ring for their data — not as an object each. Under load a server holds hundreds of thousands of
// results (retainResults defaults to 16 × capacity); objects that live that long are copied by young
// garbage collections and marked by full ones, which cost a third of the batch ingest rate on the 2-core
// VM. A Completion object is made again only for the reader who takes it.

import type { Completion } from '../index.js';

const TAKEN = 255;
const STATUS_CODE = { ok: 0, 'dead-letter': 1 } as const;
const STATUS_NAME = ['ok', 'dead-letter'] as const;

export class ResultStore {
  private capacity = 1024;
  /** Absolute positions: entry `p` lives at index `p & (capacity - 1)`. */
  private head = 0;
  private tail = 0;
  private ids = new Float64Array(this.capacity);
  /** 0 ok, 1 dead letter, TAKEN once read or evicted. */
  private status = new Uint8Array(this.capacity);
  private attempts = new Int32Array(this.capacity);
  private handlerStatus = new Int32Array(this.capacity);
  /** Where each entry's data starts in the byte ring (absolute), and its length. */
  private dataAt = new Float64Array(this.capacity);
  private dataLength = new Uint32Array(this.capacity);
  private bytes = new Uint8Array(64 * 1024);
  private byteHead = 0;
  private byteTail = 0;
  /** Dead letters' reasons, by id (few). */
  private readonly reasons = new Map<number, string>();
  /** id → absolute position; built when a reader first asks for an id, dropped when the store empties. */
  private index: Map<number, number> | undefined;
  private count = 0;

  /** Results kept and not read. */
  get retained(): number {
    return this.count;
  }

  add(c: Completion): void {
    if (this.tail - this.head === this.capacity) this.repack(this.capacity * 2, this.bytes.length);
    const len = c.data.byteLength;
    const need = this.byteTail - this.byteHead + len;
    if (need > this.bytes.length) {
      let size = this.bytes.length;
      while (size < 2 * need) size *= 2;
      this.repack(this.capacity, size);
    }
    const at = this.tail & (this.capacity - 1);
    this.ids[at] = c.id;
    this.status[at] = STATUS_CODE[c.status];
    this.attempts[at] = c.attempts;
    this.handlerStatus[at] = c.handlerStatus;
    this.dataAt[at] = this.byteTail;
    this.dataLength[at] = len;
    if (len > 0) this.writeBytes(c.data, this.byteTail);
    if (c.reason !== undefined) this.reasons.set(c.id, c.reason);
    this.index?.set(c.id, this.tail);
    this.tail++;
    this.byteTail += len;
    this.count++;
  }

  /** Takes the result of one id (a fresh Completion), or undefined when it is not kept. */
  take(id: number): Completion | undefined {
    if (this.count === 0) return undefined;
    if (!this.index) {
      this.index = new Map();
      for (let p = this.head; p < this.tail; p++) {
        const at = p & (this.capacity - 1);
        if (this.status[at] !== TAKEN) this.index.set(this.ids[at] as number, p);
      }
    }
    const p = this.index.get(id);
    if (p === undefined) return undefined;
    const at = p & (this.capacity - 1);
    const reason = this.reasons.get(id);
    const c: Completion = {
      id,
      status: STATUS_NAME[this.status[at] as 0 | 1],
      data: this.readBytes(this.dataAt[at] as number, this.dataLength[at] as number),
      attempts: this.attempts[at] as number,
      handlerStatus: this.handlerStatus[at] as number,
      ...(reason === undefined ? {} : { reason }),
    };
    this.drop(at, id);
    this.tidy();
    return c;
  }

  /** Forgets the `n` oldest unread results; returns how many it forgot. */
  evictOldest(n: number): number {
    let evicted = 0;
    for (let p = this.head; p < this.tail && evicted < n; p++) {
      const at = p & (this.capacity - 1);
      if (this.status[at] === TAKEN) continue;
      this.drop(at, this.ids[at] as number);
      evicted++;
    }
    this.tidy();
    return evicted;
  }

  /** The ids of the unread results, oldest first. */
  unreadIds(): number[] {
    const out: number[] = [];
    for (let p = this.head; p < this.tail; p++) {
      const at = p & (this.capacity - 1);
      if (this.status[at] !== TAKEN) out.push(this.ids[at] as number);
    }
    return out;
  }

  private drop(at: number, id: number): void {
    this.status[at] = TAKEN;
    this.index?.delete(id);
    if (this.reasons.size > 0) this.reasons.delete(id);
    this.count--;
  }

  /**
   * Frees read entries from the front; when read entries pile up behind an unread older one (a reader
   * taking results out of order), packs the unread ones together so memory follows what is kept.
   */
  private tidy(): void {
    if (this.count === 0) {
      this.head = this.tail = 0;
      this.byteHead = this.byteTail = 0;
      this.index = undefined;
      return;
    }
    while (this.status[this.head & (this.capacity - 1)] === TAKEN) this.head++;
    this.byteHead = this.dataAt[this.head & (this.capacity - 1)] as number;
    if (this.tail - this.head > 2 * this.count + 1024) this.repack(this.capacity, this.bytes.length);
  }

  /** Copies the unread entries, in order, into fresh columns of `capacity` slots and a byte ring of `byteCapacity`. */
  private repack(capacity: number, byteCapacity: number): void {
    const mask = this.capacity - 1;
    const ids = new Float64Array(capacity);
    const status = new Uint8Array(capacity);
    const attempts = new Int32Array(capacity);
    const handlerStatus = new Int32Array(capacity);
    const dataAt = new Float64Array(capacity);
    const dataLength = new Uint32Array(capacity);
    const bytes = new Uint8Array(byteCapacity);
    let n = 0;
    let byte = 0;
    for (let p = this.head; p < this.tail; p++) {
      const from = p & mask;
      if (this.status[from] === TAKEN) continue;
      const len = this.dataLength[from] as number;
      ids[n] = this.ids[from] as number;
      status[n] = this.status[from] as number;
      attempts[n] = this.attempts[from] as number;
      handlerStatus[n] = this.handlerStatus[from] as number;
      dataAt[n] = byte;
      dataLength[n] = len;
      this.copyOut(this.dataAt[from] as number, len, bytes, byte);
      byte += len;
      n++;
    }
    Object.assign(this, { capacity, ids, status, attempts, handlerStatus, dataAt, dataLength, bytes });
    this.head = 0;
    this.tail = n;
    this.byteHead = 0;
    this.byteTail = byte;
    this.index = undefined;
  }

  private writeBytes(data: Uint8Array, at: number): void {
    const size = this.bytes.length;
    const from = at % size;
    const len = data.byteLength;
    if (from + len <= size) {
      if (len <= 16) for (let i = 0; i < len; i++) this.bytes[from + i] = data[i] as number;
      else this.bytes.set(data, from);
    } else {
      const first = size - from;
      this.bytes.set(data.subarray(0, first), from);
      this.bytes.set(data.subarray(first), 0);
    }
  }

  /** A copy of `len` bytes at absolute position `at` of the ring. */
  private readBytes(at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.copyOut(at, len, out, 0);
    return out;
  }

  private copyOut(at: number, len: number, to: Uint8Array, toAt: number): void {
    if (len === 0) return;
    const size = this.bytes.length;
    const from = at % size;
    if (from + len <= size) to.set(this.bytes.subarray(from, from + len), toAt);
    else {
      const first = size - from;
      to.set(this.bytes.subarray(from, size), toAt);
      to.set(this.bytes.subarray(0, len - first), toAt + first);
    }
  }
}
