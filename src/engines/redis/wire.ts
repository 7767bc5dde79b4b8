// The bytes inside stream entries. A shipped entry packs a run of one shard's messages (position order);
// a result entry packs their outcomes in the same order. Little-endian words, no padding:
//
//   batch   u32 count, then per message: u32 idLo, u32 idHi, u32 keyHash, u32 flags, u32 len, len bytes
//   results u32 count, then per message: u32 idLo, u32 idHi, i32 handlerStatus, u32 attempts, u32 len, len bytes

const HEAD = 4;
const PER_MESSAGE = 20;
const TWO_POW_32 = 4294967296;

export interface WireMessage {
  id: number;
  keyHash: number;
  /** SlotFlag bits (HAS_KEY). */
  flags: number;
  payload: Uint8Array;
}

export interface WireResult {
  id: number;
  handlerStatus: number;
  attempts: number;
  data: Uint8Array;
}

/** Packs messages (one shard's run, in position order) into one entry value. */
export function packBatch(messages: readonly WireMessage[]): Buffer {
  let bytes = HEAD;
  for (const m of messages) bytes += PER_MESSAGE + m.payload.byteLength;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32LE(messages.length, 0);
  let at = HEAD;
  for (const m of messages) {
    out.writeUInt32LE(m.id >>> 0, at);
    out.writeUInt32LE(Math.floor(m.id / TWO_POW_32), at + 4);
    out.writeUInt32LE(m.keyHash >>> 0, at + 8);
    out.writeUInt32LE(m.flags >>> 0, at + 12);
    out.writeUInt32LE(m.payload.byteLength, at + 16);
    out.set(m.payload, at + PER_MESSAGE);
    at += PER_MESSAGE + m.payload.byteLength;
  }
  return out;
}

/** The messages of a packed batch; payloads are views into `bytes`. Throws on a malformed entry. */
export function unpackBatch(bytes: Buffer): WireMessage[] {
  const count = readCount(bytes);
  const out: WireMessage[] = [];
  let at = HEAD;
  for (let i = 0; i < count; i++) {
    check(bytes, at + PER_MESSAGE);
    const len = bytes.readUInt32LE(at + 16);
    check(bytes, at + PER_MESSAGE + len);
    out.push({
      id: bytes.readUInt32LE(at + 4) * TWO_POW_32 + bytes.readUInt32LE(at),
      keyHash: bytes.readUInt32LE(at + 8),
      flags: bytes.readUInt32LE(at + 12),
      payload: bytes.subarray(at + PER_MESSAGE, at + PER_MESSAGE + len),
    });
    at += PER_MESSAGE + len;
  }
  return out;
}

export function packResults(results: readonly WireResult[]): Buffer {
  let bytes = HEAD;
  for (const r of results) bytes += PER_MESSAGE + r.data.byteLength;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32LE(results.length, 0);
  let at = HEAD;
  for (const r of results) {
    out.writeUInt32LE(r.id >>> 0, at);
    out.writeUInt32LE(Math.floor(r.id / TWO_POW_32), at + 4);
    out.writeInt32LE(r.handlerStatus | 0, at + 8);
    out.writeUInt32LE(r.attempts >>> 0, at + 12);
    out.writeUInt32LE(r.data.byteLength, at + 16);
    out.set(r.data, at + PER_MESSAGE);
    at += PER_MESSAGE + r.data.byteLength;
  }
  return out;
}

export function unpackResults(bytes: Buffer): WireResult[] {
  const count = readCount(bytes);
  const out: WireResult[] = [];
  let at = HEAD;
  for (let i = 0; i < count; i++) {
    check(bytes, at + PER_MESSAGE);
    const len = bytes.readUInt32LE(at + 16);
    check(bytes, at + PER_MESSAGE + len);
    out.push({
      id: bytes.readUInt32LE(at + 4) * TWO_POW_32 + bytes.readUInt32LE(at),
      handlerStatus: bytes.readInt32LE(at + 8),
      attempts: bytes.readUInt32LE(at + 12),
      data: bytes.subarray(at + PER_MESSAGE, at + PER_MESSAGE + len),
    });
    at += PER_MESSAGE + len;
  }
  return out;
}

function readCount(bytes: Buffer): number {
  check(bytes, HEAD);
  return bytes.readUInt32LE(0);
}

function check(bytes: Buffer, end: number): void {
  if (end > bytes.byteLength) throw new Error(`malformed gpuqueue stream entry: ${bytes.byteLength} bytes, needs at least ${end}`);
}
