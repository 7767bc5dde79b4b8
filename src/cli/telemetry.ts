// Synthetic UC-1 telemetry for `gpuqueue demo`: fixed-size sensor records from a fleet of devices, the
// device id being the message key. Each device numbers its records, so per-key order can be checked at the
// other end. Batches are written into buffers reused from one batch to the next (enqueueBatch copies them
// into the ring before it resolves), so producing allocates nothing per record; readings come from a pool
// of pre-generated blocks (one copy per record) so that making records costs less than queueing them.
import { fnv1a } from '../index.js';

/** Bytes before the readings: magic, device, sensor kind, sequence, timestamp, reading count. */
export const RECORD_HEADER_BYTES = 24;
const MAGIC = 0x31545147; // 'GQT1' little-endian
const READING_BLOCKS = 64;

export interface TelemetryBatch {
  payloads: Uint8Array[];
  /** The message key of each record: its device id. */
  keys: string[];
  devices: Uint16Array;
  /** Per-device sequence numbers. */
  seqs: Uint32Array;
  /** FNV-1a of each record: what the checksum handler must return. */
  checksums: Uint32Array;
}

export class TelemetrySource {
  readonly recordBytes: number;
  readonly devices: number;
  private readonly deviceKeys: string[];
  private readonly nextSeq: Uint32Array;
  private readonly batch: TelemetryBatch;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  /** READING_BLOCKS blocks of float32 readings, each as long as a record's reading area. */
  private readonly readingBlocks: Uint8Array;
  private readonly readingBytes: number;
  private random: number;

  constructor(recordBytes: number, batchSize: number, devices = 512, seed = 0x2545f491) {
    if (recordBytes < RECORD_HEADER_BYTES)
      throw new RangeError(`a sensor record needs at least ${RECORD_HEADER_BYTES} bytes; got ${recordBytes}`);
    this.recordBytes = recordBytes;
    this.devices = devices;
    this.deviceKeys = Array.from({ length: devices }, (_, d) => `sensor-${String(d).padStart(4, '0')}`);
    this.nextSeq = new Uint32Array(devices);
    this.random = seed >>> 0 || 1;
    const buffer = new ArrayBuffer(recordBytes * batchSize);
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
    this.readingBytes = recordBytes - RECORD_HEADER_BYTES;
    this.readingBlocks = new Uint8Array(READING_BLOCKS * this.readingBytes);
    const blocks = new DataView(this.readingBlocks.buffer);
    for (let b = 0; b < READING_BLOCKS; b++) {
      for (let r = 0; r + 4 <= this.readingBytes; r += 4)
        blocks.setFloat32(b * this.readingBytes + r, 20 + (b % 17) + (this.nextRandom() % 1000) / 1000, true);
    }
    this.batch = {
      payloads: Array.from({ length: batchSize }, (_, i) => new Uint8Array(buffer, i * recordBytes, recordBytes)),
      keys: new Array<string>(batchSize).fill(''),
      devices: new Uint16Array(batchSize),
      seqs: new Uint32Array(batchSize),
      checksums: new Uint32Array(batchSize),
    };
  }

  /** The next batch of records, in the shared buffers (valid until the next call). */
  next(): TelemetryBatch {
    const { batch, view, recordBytes, readingBytes } = this;
    const now = Date.now();
    const readings = Math.floor(readingBytes / 4);
    for (let i = 0; i < batch.payloads.length; i++) {
      const device = this.nextRandom() % this.devices;
      const seq = this.nextSeq[device] as number;
      this.nextSeq[device] = seq + 1;
      const at = i * recordBytes;
      view.setUint32(at, MAGIC, true);
      view.setUint16(at + 4, device, true);
      view.setUint16(at + 6, device % 4, true); // sensor kind: temperature, humidity, pressure, vibration
      view.setUint32(at + 8, seq, true);
      view.setFloat64(at + 12, now, true);
      view.setUint32(at + 20, readings, true);
      const block = (this.nextRandom() % READING_BLOCKS) * readingBytes;
      this.bytes.set(this.readingBlocks.subarray(block, block + readingBytes), at + RECORD_HEADER_BYTES);
      // The latest reading is fresh; the rest of the window comes from the pool.
      if (readings > 0) view.setFloat32(at + RECORD_HEADER_BYTES, 20 + (device % 17) + (this.nextRandom() % 1000) / 1000, true);
      batch.keys[i] = this.deviceKeys[device] as string;
      batch.devices[i] = device;
      batch.seqs[i] = seq;
      batch.checksums[i] = fnv1a(batch.payloads[i] as Uint8Array);
    }
    return batch;
  }

  /** xorshift32: cheap and deterministic. */
  private nextRandom(): number {
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x >>> 0;
    return this.random;
  }
}
