// The server's record of batches accepted and not yet completed. A batch's ids are consecutive
// (Queue.enqueueBatch), so one record stands for all its messages: no per-message map entry, timestamp or
// object on the batch path. Records are kept in id order; completions arrive nearly in that order, so
// the last record hit answers almost every lookup and finished records leave from the front.
import type { Completion } from '../index.js';

/** Where a WebSocket wants its completions; `false` when it is gone (the completion is then kept). */
export type CompletionSink = (c: Completion) => boolean;

export interface PendingBatch {
  readonly first: number;
  readonly count: number;
  /** Messages of the batch not completed yet. */
  left: number;
  readonly acceptedAt: number;
  readonly sink: CompletionSink | undefined;
  /** 1 for each message (by `id - first`) already completed. */
  readonly done: Uint8Array;
}

export class PendingBatches {
  private list: PendingBatch[] = [];
  private head = 0;
  private last: PendingBatch | undefined;
  /** Messages accepted in batches and not completed yet. */
  messages = 0;

  add(first: number, count: number, acceptedAt: number, sink: CompletionSink | undefined): PendingBatch {
    const batch: PendingBatch = { first, count, left: count, acceptedAt, sink, done: new Uint8Array(count) };
    const list = this.list;
    // Batches usually arrive in id order; one that waited for space may come after a later one.
    let at = list.length;
    while (at > this.head && (list[at - 1] as PendingBatch).first > first) at--;
    list.splice(at, 0, batch);
    this.messages += count;
    return batch;
  }

  /** The batch that holds an id, if it is still pending. */
  find(id: number): PendingBatch | undefined {
    const last = this.last;
    if (last !== undefined && id >= last.first && id < last.first + last.count && last.left > 0) return last;
    const list = this.list;
    let lo = this.head;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = list[mid] as PendingBatch;
      if (id < b.first) hi = mid - 1;
      else if (id >= b.first + b.count) lo = mid + 1;
      else {
        if (b.left === 0) return undefined;
        this.last = b;
        return b;
      }
    }
    return undefined;
  }

  /** Whether this id belongs to a pending batch and has not completed. */
  has(id: number): boolean {
    const b = this.find(id);
    return b !== undefined && b.done[id - b.first] === 0;
  }

  /** Marks one message done; false when it already was (a redelivered completion counts once). */
  complete(b: PendingBatch, id: number): boolean {
    const i = id - b.first;
    if (b.done[i] === 1) return false;
    b.done[i] = 1;
    this.messages--;
    if (--b.left === 0) this.trim();
    return true;
  }

  /** Drops finished batches from the front; compacts the array once half of it is dropped. */
  private trim(): void {
    const list = this.list;
    while (this.head < list.length && (list[this.head] as PendingBatch).left === 0) list[this.head++] = undefined as never;
    if (this.head === list.length) {
      this.list = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > list.length) {
      this.list = list.slice(this.head);
      this.head = 0;
    }
  }
}
