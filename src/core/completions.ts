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

export class CompletionStore {
  private readonly byId = new Map<number, Completion>();
  /** Ids in completion order; entries already taken by id are skipped when polled. */
  private order: number[] = [];
  private orderHead = 0;
  private readonly waiters = new Map<number, Waiter[]>();
  private readonly deadLetterList: DeadLetter[] = [];
  private arrivalListeners: (() => void)[] = [];

  /** A harvested completion: handed to whoever waits on its id, else kept. */
  add(c: Completion): void {
    const waiting = this.waiters.get(c.id);
    if (waiting) {
      this.waiters.delete(c.id);
      for (const w of waiting) w.resolve(c);
      return;
    }
    this.byId.set(c.id, c);
    this.order.push(c.id);
  }

  addDeadLetter(d: DeadLetter): void {
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
    const c = this.byId.get(id);
    if (c) this.byId.delete(id);
    return c;
  }

  /** Up to `max` kept completions, oldest first. */
  poll(max: number): Completion[] {
    const out: Completion[] = [];
    while (out.length < max && this.orderHead < this.order.length) {
      const id = this.order[this.orderHead++] as number;
      const c = this.byId.get(id);
      if (c) {
        this.byId.delete(id);
        out.push(c);
      }
    }
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    return out;
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
    return this.byId.size;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  get deadLetterCount(): number {
    return this.deadLetterList.length;
  }
}
