// The last N events of one queue (completions and stats), numbered 1, 2, 3… so a Server-Sent Events client
// that reconnects with Last-Event-ID gets what it missed. Bounded: a client further behind than the log
// learns it skipped events (`gap`) instead of the server keeping everything.

export interface QueueEvent {
  seq: number;
  type: 'completion' | 'stats';
  /** The JSON text sent as the event's data, or a function making it (completions are serialized only if a client reads them). */
  data: string | (() => string);
}

/** An event's data text, made once. */
export function eventText(e: QueueEvent): string {
  if (typeof e.data !== 'string') e.data = e.data();
  return e.data;
}

const callThunk = (make: unknown): string => (make as () => string)();

/**
 * The log is three parallel arrays indexed by `seq % size` (type, data, maker) rather than an event object
 * per entry: a busy queue appends a million completions a second, and an event object plus a closure each
 * would be most of the log's cost. Event objects are made only for readers, in `after`.
 */
export class EventLog {
  private readonly types: (QueueEvent['type'] | undefined)[];
  /** The text, or the item `makers` turns into text when first read. */
  private readonly data: unknown[];
  private readonly makers: (((item: never) => string) | undefined)[];
  private readonly seqs: Float64Array;
  private nextSeq = 1;
  private readonly listeners = new Set<() => void>();

  constructor(readonly size: number) {
    this.types = new Array(size);
    this.data = new Array(size);
    this.makers = new Array(size);
    this.seqs = new Float64Array(size);
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Oldest seq still held. */
  get firstSeq(): number {
    return Math.max(1, this.nextSeq - this.size);
  }

  append(type: QueueEvent['type'], data: QueueEvent['data']): void {
    if (typeof data === 'string') this.put(type, data, undefined);
    else this.put(type, data, callThunk);
    this.notify();
  }

  /** Appends one event per item (its text made by `text` only if a client reads it), then tells subscribers once. */
  appendMany<T>(type: QueueEvent['type'], items: readonly T[], text: (item: T) => string): void {
    if (items.length === 0) return;
    // Only the last `size` can be read back: skip making entries for the rest.
    const skip = Math.max(0, items.length - this.size);
    this.nextSeq += skip;
    for (let i = skip; i < items.length; i++) this.put(type, items[i], text as (item: never) => string);
    this.notify();
  }

  private put(type: QueueEvent['type'], item: unknown, maker: ((item: never) => string) | undefined): void {
    const seq = this.nextSeq++;
    const at = seq % this.size;
    this.types[at] = type;
    this.data[at] = item;
    this.makers[at] = maker;
    this.seqs[at] = seq;
  }

  private notify(): void {
    if (this.listeners.size === 0) return;
    for (const listener of this.listeners) listener();
  }

  /** The events after `seq`, oldest first (at most `max`); `gap` when some were already overwritten. */
  after(seq: number, max: number): { events: QueueEvent[]; gap: boolean } {
    const from = Math.max(seq + 1, this.firstSeq);
    const to = Math.min(this.lastSeq, from + max - 1);
    const events: QueueEvent[] = [];
    for (let s = from; s <= to; s++) {
      const at = s % this.size;
      const maker = this.makers[at];
      const item = this.data[at];
      const data = maker === undefined ? (item as string) : () => this.made(s, maker(item as never));
      events.push({ seq: s, type: this.types[at] as QueueEvent['type'], data });
    }
    return { events, gap: seq + 1 < from };
  }

  /** Keeps a made text in place of its item, so a second reader does not make it again. */
  private made(seq: number, text: string): string {
    const at = seq % this.size;
    if (this.seqs[at] === seq) {
      this.data[at] = text;
      this.makers[at] = undefined;
    }
    return text;
  }

  /** Called after every append (once per `appendMany`); returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
