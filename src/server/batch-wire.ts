// The binary wire formats of batches, shared by POST …/batch and the WebSocket's batch mode (docs/server.md):
// a batch of messages is length-prefixed frames `[u32 LE length][bytes]…` in one body, and completions
// go back to a batch-mode WebSocket as records `[u64 LE id][u8 status][u8 0][u16 LE attempts]
// [i32 LE handlerStatus][u32 LE length][bytes]…`, many per binary frame. Hand-written: these are our own
// formats, and a general codec (protobuf, msgpack) would add a copy or an object per message.
import { type Completion, InvalidArgumentError, type PackedPayloads } from '../index.js';
import { HttpFailure } from './http-errors.js';

export const FRAME_HEADER_BYTES = 4;
export const COMPLETION_HEADER_BYTES = 20;
/** `status` byte of a completion record. */
export const CompletionStatusByte = { ok: 0, 'dead-letter': 1 } as const;

/** The limits one queue puts on a batch. */
export interface BatchLimits {
  name: string;
  slotBytes: number;
  maxBatch: number;
}

export const payloadTooLarge = (q: BatchLimits, bytes: number, what: string) =>
  new HttpFailure(413, 'INVALID_ARG', `${what} is ${bytes} bytes; queue ${q.name} takes at most slotBytes = ${q.slotBytes}`);

export const batchTooLarge = (q: BatchLimits, count: number | string) =>
  new HttpFailure(413, 'INVALID_ARG', `a batch holds at most ${q.maxBatch} messages on queue ${q.name}; got ${count}`);

/**
 * Reads a body of length-prefixed frames as packed payloads (offsets into the body: no copy, no view per
 * payload). Malformed (a header or a payload cut short): INVALID_ARG (400); a payload over slotBytes or
 * more than maxBatch frames: 413. Two passes: the first checks and counts, the second fills the offsets.
 */
export function splitFrames(body: Buffer, q: BatchLimits): PackedPayloads {
  const end = body.length;
  let count = 0;
  for (let at = 0; at < end; count++) {
    if (at + FRAME_HEADER_BYTES > end) throw new InvalidArgumentError(`the batch body ends inside a frame header at byte ${at}`);
    const n = body.readUInt32LE(at);
    at += FRAME_HEADER_BYTES;
    if (n > q.slotBytes) throw payloadTooLarge(q, n, `payload ${count}`);
    if (at + n > end) throw new InvalidArgumentError(`frame ${count} says ${n} bytes but the body ends first`);
    if (count === q.maxBatch) throw batchTooLarge(q, 'more');
    at += n;
  }
  const starts = new Uint32Array(count);
  const lengths = new Uint32Array(count);
  for (let i = 0, at = 0; i < count; i++) {
    const n = body.readUInt32LE(at);
    starts[i] = at + FRAME_HEADER_BYTES;
    lengths[i] = n;
    at += FRAME_HEADER_BYTES + n;
  }
  return { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), starts, lengths };
}

/** Completion records for one client, written into chunks that are sent whole (one binary frame each). */
export class CompletionRecords {
  private chunk: Buffer;
  private view: DataView;
  private used = 0;
  /** Records written since the last `take`. */
  count = 0;

  constructor(private readonly chunkBytes = 64 * 1024) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
    this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
  }

  get bytes(): number {
    return this.used;
  }

  add(c: Completion): void {
    const len = c.data.byteLength;
    const need = COMPLETION_HEADER_BYTES + len;
    if (this.used + need > this.chunk.length) this.grow(need);
    // DataView stores, not Buffer.write*: no argument checks, and they compile to plain moves.
    const v = this.view;
    const at = this.used;
    v.setUint32(at, c.id % 4294967296, true);
    v.setUint32(at + 4, Math.floor(c.id / 4294967296), true);
    v.setUint8(at + 8, CompletionStatusByte[c.status]);
    v.setUint8(at + 9, 0);
    v.setUint16(at + 10, Math.min(c.attempts, 65535), true);
    v.setInt32(at + 12, c.handlerStatus | 0, true);
    v.setUint32(at + 16, len, true);
    if (len > 0) {
      const b = this.chunk;
      const to = at + COMPLETION_HEADER_BYTES;
      const data = c.data;
      if (len <= 16) for (let i = 0; i < len; i++) b[to + i] = data[i] as number;
      else b.set(data, to);
    }
    this.used = at + need;
    this.count++;
  }

  /** The records written so far (a view the caller sends; later records go to a fresh chunk). */
  take(): Buffer {
    const out = this.chunk.subarray(0, this.used);
    this.setChunk(Buffer.allocUnsafe(this.chunkBytes));
    this.used = 0;
    this.count = 0;
    return out;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.chunkBytes, 2 * this.chunk.length, this.used + need));
    this.chunk.copy(next, 0, 0, this.used);
    this.setChunk(next);
  }

  private setChunk(chunk: Buffer): void {
    this.chunk = chunk;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Reads completion records (the client's side; used by tests and the load benchmark). */
export function readCompletionRecords(
  frame: Uint8Array,
): { id: number; status: Completion['status']; attempts: number; handlerStatus: number; data: Buffer }[] {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const out = [];
  for (let at = 0; at < b.length; ) {
    if (at + COMPLETION_HEADER_BYTES > b.length) throw new Error(`a completion record is cut short at byte ${at}`);
    const len = b.readUInt32LE(at + 16);
    out.push({
      id: b.readUInt32LE(at + 4) * 4294967296 + b.readUInt32LE(at),
      status: b[at + 8] === CompletionStatusByte.ok ? ('ok' as const) : ('dead-letter' as const),
      attempts: b.readUInt16LE(at + 10),
      handlerStatus: b.readInt32LE(at + 12),
      data: b.subarray(at + COMPLETION_HEADER_BYTES, at + COMPLETION_HEADER_BYTES + len),
    });
    at += COMPLETION_HEADER_BYTES + len;
  }
  return out;
}
