// What the owner thread keeps after harvesting: completions waiting to be read (by id, and in completion
// order for `pollCompletions`), the callers waiting on one id, and the dead-letter record.

/** How a message left the queue. */
export type CompletionStatus = 'ok' | 'dead-letter';

export interface Completion {
  id: number;
  status: CompletionStatus;
  /** The handler's result (empty for a dead letter). */
  data: Uint8Array;
  /** How many times the handler ran (1 = first try succeeded). */
  attempts: number;
  /** The handler's status on its last attempt (0 = OK). */
  handlerStatus: number;
  /** For a dead letter: why, in words. */
  reason?: string;
}

/**
 * Completions written into typed arrays by `pollCompletionsInto`, with no object per message: completion
 * `i` of a poll is message `ids[i]`, its result is `results[resultOffsets[i], resultOffsets[i] +
 * resultLengths[i])`. `createCompletionBatch` makes one; reuse it from poll to poll.
 */
export interface CompletionBatch {
  ids: Float64Array;
  /** 0: a result (`ok`); 1: a dead letter (its record is in `deadLetters()`). */
  statuses: Uint8Array;
  attempts: Uint32Array;
  handlerStatuses: Uint32Array;
  resultOffsets: Uint32Array;
  resultLengths: Uint32Array;
  results: Uint8Array;
}

/** `statuses` values of a CompletionBatch. */
export const BatchStatus = { OK: 0, DEAD_LETTER: 1 } as const;

/** A CompletionBatch for up to `maxCompletions` per poll, with `resultBytes` of result room per completion. */
export function createCompletionBatch(maxCompletions: number, resultBytes: number): CompletionBatch {
  return {
    ids: new Float64Array(maxCompletions),
    statuses: new Uint8Array(maxCompletions),
    attempts: new Uint32Array(maxCompletions),
    handlerStatuses: new Uint32Array(maxCompletions),
    resultOffsets: new Uint32Array(maxCompletions),
    resultLengths: new Uint32Array(maxCompletions),
    results: new Uint8Array(maxCompletions * resultBytes),
  };
}

export interface DeadLetter {
  id: number;
  /** A copy of the payload, so the message can be inspected or re-enqueued. */
  payload: Uint8Array;
  attempts: number;
  handlerStatus: number;
  reason: string;
  /** The key's 32-bit hash, when the message had a key. */
  keyHash?: number;
}

interface Waiter {
  resolve(c: Completion): void;
}

/**
 * Kept completions live in one FIFO array (what `pollCompletions` reads, with no per-message map work).
 * An index by id is built only when someone asks for an id, and dropped again once the FIFO empties, so
 * the batch path pays for no hash map.
 */
export class CompletionStore {
  private fifo: (Completion | undefined)[] = [];
  private head = 0;
  private count = 0;
  private byId: Map<number, number> | undefined;
  private readonly waiters = new Map<number, Waiter[]>();
  private readonly deadLetterList: DeadLetter[] = [];
  private arrivalListeners: (() => void)[] = [];
  private readonly maxDeadLetters: number;
  /** Dead-letter records dropped (oldest first) because `deadLetters()` was not called for too long. */
  deadLettersDropped = 0;

  /** `maxDeadLetters` bounds the dead-letter record; each dead letter is also a completion, which is never dropped. */
  constructor(maxDeadLetters: number) {
    this.maxDeadLetters = maxDeadLetters;
  }

  /** A harvested completion: handed to whoever waits on its id, else kept. */
  add(c: Completion): void {
    if (this.waiters.size > 0) {
      const waiting = this.waiters.get(c.id);
      if (waiting) {
        this.waiters.delete(c.id);
        for (const w of waiting) w.resolve(c);
        return;
      }
    }
    this.byId?.set(c.id, this.fifo.length);
    this.fifo.push(c);
    this.count++;
  }

  addDeadLetter(d: DeadLetter): void {
    if (this.deadLetterList.length >= this.maxDeadLetters) {
      this.deadLetterList.shift();
      this.deadLettersDropped++;
    }
    this.deadLetterList.push(d);
  }

  /** Tells iterators that completions arrived (called once per harvest pass, not per message). */
  notifyArrivals(): void {
    if (this.arrivalListeners.length === 0) return;
    const listeners = this.arrivalListeners;
    this.arrivalListeners = [];
    for (const l of listeners) l();
  }

  onNextArrival(listener: () => void): void {
    this.arrivalListeners.push(listener);
  }

  take(id: number): Completion | undefined {
    if (this.count === 0) return undefined;
    if (!this.byId) {
      this.byId = new Map();
      for (let i = this.head; i < this.fifo.length; i++) {
        const c = this.fifo[i];
        if (c) this.byId.set(c.id, i);
      }
    }
    const at = this.byId.get(id);
    if (at === undefined) return undefined;
    this.byId.delete(id);
    const c = this.fifo[at];
    this.fifo[at] = undefined;
    this.count--;
    this.compact();
    return c;
  }

  /** Up to `max` kept completions, oldest first. */
  /** The oldest kept completion, left in place. */
  peek(): Completion | undefined {
    const fifo = this.fifo;
    for (let i = this.head; i < fifo.length; i++) if (fifo[i]) return fifo[i];
    return undefined;
  }

  poll(max: number): Completion[] {
    const out: Completion[] = [];
    const fifo = this.fifo;
    let i = this.head;
    while (out.length < max && i < fifo.length) {
      const c = fifo[i];
      if (c) {
        out.push(c);
        fifo[i] = undefined;
        this.byId?.delete(c.id);
      }
      i++;
    }
    this.head = i;
    this.count -= out.length;
    this.compact();
    return out;
  }

  /** Drops taken entries from the front; forgets the index once nothing is kept. */
  private compact(): void {
    if (this.count === 0) {
      this.fifo = [];
      this.head = 0;
      this.byId = undefined;
      return;
    }
    while (this.head < this.fifo.length && this.fifo[this.head] === undefined) this.head++;
    if (this.head > 4096 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      if (this.byId) for (const [id, at] of this.byId) this.byId.set(id, at - this.head);
      this.head = 0;
    }
  }

  wait(id: number, waiter: Waiter): void {
    const list = this.waiters.get(id);
    if (list) list.push(waiter);
    else this.waiters.set(id, [waiter]);
  }

  unwait(id: number, waiter: Waiter): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.waiters.delete(id);
  }

  /** Takes the whole dead-letter record. */
  takeDeadLetters(): DeadLetter[] {
    return this.deadLetterList.splice(0);
  }

  get retained(): number {
    return this.count;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  get deadLetterCount(): number {
    return this.deadLetterList.length;
  }
}
