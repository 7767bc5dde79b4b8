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

export class EventLog {
  private readonly ring: (QueueEvent | undefined)[];
  private nextSeq = 1;
  private readonly listeners = new Set<() => void>();

  constructor(readonly size: number) {
    this.ring = new Array(size);
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Oldest seq still held. */
  get firstSeq(): number {
    return Math.max(1, this.nextSeq - this.size);
  }

  append(type: QueueEvent['type'], data: QueueEvent['data']): void {
    const event: QueueEvent = { seq: this.nextSeq++, type, data };
    this.ring[event.seq % this.size] = event;
    for (const listener of this.listeners) listener();
  }

  /** The events after `seq`, oldest first (at most `max`); `gap` when some were already overwritten. */
  after(seq: number, max: number): { events: QueueEvent[]; gap: boolean } {
    const from = Math.max(seq + 1, this.firstSeq);
    const to = Math.min(this.lastSeq, from + max - 1);
    const events: QueueEvent[] = [];
    for (let s = from; s <= to; s++) events.push(this.ring[s % this.size] as QueueEvent);
    return { events, gap: seq + 1 < from };
  }

  /** Called after every append; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
