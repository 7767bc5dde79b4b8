// What `gpuqueue demo` expects back, and the check of everything it gets: each completion against the
// FNV-1a of its record, each dead letter against the fault handler's own reference (faultFails) and its
// payload against the record it came from, and per-device order. So the summary can say that nothing was
// lost, corrupted or reordered.
import { type Completion, type DeadLetter, faultFails, fnv1a } from '../index.js';
import type { TelemetryBatch } from './telemetry.js';

interface Entry {
  firstId: number;
  count: number;
  left: number;
  checksums: Uint32Array;
  devices: Uint16Array;
  seqs: Uint32Array;
}

export interface FaultReference {
  failRate: number;
  failAttempts: number;
  seed: number;
}

export class ResultLedger {
  /** Completions read: results and dead letters. */
  completed = 0;
  deadLetters = 0;
  /** Wrong checksums, results where a dead letter was due (or the reverse), damaged dead-letter payloads. */
  mismatches = 0;
  /** Completions of a device that came before an earlier record of the same device. */
  outOfOrder = 0;
  private registered = 0;
  private readonly entries: Entry[] = [];
  /** Completions read before enqueueBatch resolved with their ids. */
  private readonly early = new Map<number, Completion>();
  /** Dead-lettered ids whose dead-letter record (with the payload) is not checked yet → their checksum. */
  private readonly deadAwaitingRecord = new Map<number, number>();
  /** Dead-letter records whose completion is not read yet → the FNV-1a of their payload. */
  private readonly recordAwaitingDead = new Map<number, number>();
  private readonly lastSeq: Int32Array;
  private readonly fault: FaultReference;

  constructor(devices: number, fault: FaultReference) {
    this.lastSeq = new Int32Array(devices).fill(-1);
    this.fault = fault;
  }

  /** Messages enqueued whose completion has not been read. */
  get outstanding(): number {
    return this.registered - this.completed;
  }

  /** Records a batch just enqueued (its ids from enqueueBatch, its expectations copied out of the reused buffers). */
  register(ids: number[], batch: TelemetryBatch): void {
    const count = ids.length;
    const firstId = ids[0] as number;
    if (count === 0) return;
    if (ids[count - 1] !== firstId + count - 1)
      throw new Error(`enqueueBatch returned non-contiguous ids (${firstId}…${ids[count - 1]} for ${count} messages)`);
    const entry: Entry = {
      firstId,
      count,
      left: count,
      checksums: batch.checksums.slice(0, count),
      devices: batch.devices.slice(0, count),
      seqs: batch.seqs.slice(0, count),
    };
    this.entries.push(entry);
    this.registered += count;
    for (let id = firstId; id < firstId + count && this.early.size > 0; id++) {
      const c = this.early.get(id);
      if (c) {
        this.early.delete(id);
        this.settle(c);
      }
    }
  }

  /** Checks one completion. */
  settle(c: Completion): void {
    const entry = this.entryOf(c.id);
    if (!entry) {
      this.early.set(c.id, c);
      return;
    }
    const i = c.id - entry.firstId;
    const expected = entry.checksums[i] as number;
    const mustFail = faultFails(c.id, 0, this.fault);
    this.completed++;
    if (c.status === 'ok') {
      const got = c.data.byteLength === 4 ? new DataView(c.data.buffer, c.data.byteOffset, 4).getUint32(0, true) : -1;
      if (mustFail || got !== expected) this.mismatches++;
    } else {
      this.deadLetters++;
      if (!mustFail) this.mismatches++;
      const payloadSum = this.recordAwaitingDead.get(c.id);
      if (payloadSum === undefined) this.deadAwaitingRecord.set(c.id, expected);
      else {
        this.recordAwaitingDead.delete(c.id);
        if (payloadSum !== expected) this.mismatches++;
      }
    }
    const device = entry.devices[i] as number;
    const seq = entry.seqs[i] as number;
    if (seq <= (this.lastSeq[device] as number)) this.outOfOrder++;
    else this.lastSeq[device] = seq;
    if (--entry.left === 0) this.entries.splice(this.entries.indexOf(entry), 1);
  }

  /** Checks dead-letter records (from `q.deadLetters()`): each payload must be the record enqueued. */
  checkDeadLetters(records: DeadLetter[]): void {
    for (const d of records) {
      const sum = fnv1a(d.payload);
      const expected = this.deadAwaitingRecord.get(d.id);
      if (expected === undefined) this.recordAwaitingDead.set(d.id, sum);
      else {
        this.deadAwaitingRecord.delete(d.id);
        if (sum !== expected) this.mismatches++;
      }
    }
  }

  /** After the last completion: dead letters and records that never found each other count as mismatches. */
  finish(): void {
    this.mismatches += this.deadAwaitingRecord.size + this.recordAwaitingDead.size + this.early.size;
    this.deadAwaitingRecord.clear();
    this.recordAwaitingDead.clear();
    this.early.clear();
  }

  private entryOf(id: number): Entry | undefined {
    for (const e of this.entries) if (id >= e.firstId && id < e.firstId + e.count) return e;
    return undefined;
  }
}
