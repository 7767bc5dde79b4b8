// One batch in flight: the GPU buffers it goes through (message records and payloads in, outcomes and
// results out, a readback buffer to map) and the ring slots it holds. The engine keeps a few stages and
// cycles them, so while one batch runs on the GPU the next is being gathered and the one before is being
// published. A stage starts small and doubles when a batch fills it: under load batches grow, idle ones
// stay cheap.
//
// Staged as the ring lays its arrays out, so that a run of contiguous slots moves with one copy each way:
//   staging  [ message records: capacity × 16 B | payloads: capacity × payloadArea ]
//   readback [ outcomes: count × OUTCOME_BYTES (the ring's outcome words) | results: count × resultArea ]
import { OUTCOME_BYTES } from '../../core/slot-layout.js';
import {
  BufferUsage,
  type GpuBindGroup,
  type GpuBindGroupLayout,
  type GpuBuffer,
  type GpuComputePipeline,
  type GpuDevice,
  MapMode,
} from './gpu-api.js';
/**
 * How message records and payloads reach the GPU. dawn.node crashes when handed memory of a
 * SharedArrayBuffer, so each way copies them once out of the ring in JS, into:
 * - `write-buffer`: an ordinary ArrayBuffer, then `queue.writeBuffer` (Dawn copies it again, into its own staging);
 * - `mapped`: a MAP_WRITE staging buffer kept mapped between batches, then `copyBufferToBuffer` on the GPU;
 * - `mapped-at-creation`: a fresh staging buffer per batch, created mapped, then `copyBufferToBuffer`.
 * bench/webgpu.mjs measures the three (bench/results/2026-11-24-webgpu-*.json). On a GPU (H100, Vulkan)
 * `mapped` is fastest: 2.0 M msg/s of 256 B, and 4× the others at 4 KB (0.47 M msg/s); with a software
 * adapter, whose "GPU memory" is host memory, `write-buffer` is (1.2-1.5× at 4 KB). Hence the default.
 */
export type UploadPath = 'write-buffer' | 'mapped' | 'mapped-at-creation';
export const defaultUploadPath = (softwareAdapter: boolean): UploadPath => (softwareAdapter ? 'write-buffer' : 'mapped');

/** u32 words of a staged message record (batch_consumer.wgsl MSG_*), written by the gather. */
export const MessageRecord = {
  PAYLOAD_LEN: 0,
  ID_LO: 1,
  ID_HI: 2,
  /** The slot's ATTEMPTS before this run. */
  ATTEMPTS: 3,
} as const;
/** Bytes of a staged message record (batch_consumer.wgsl MSG_RECORD_WORDS × 4). */
export const MESSAGE_RECORD_BYTES = 16;
/** Invocations per workgroup (batch_consumer.wgsl @workgroup_size). */
export const WORKGROUP_SIZE = 64;
/** Bytes of the batch uniform (batch_consumer.wgsl BatchParams). */
export const PARAMS_BYTES = 112;
/** Smallest GPU buffer made: WebGPU binds no empty buffer (a ring with no result area has resultArea 0). */
const MIN_BUFFER_BYTES = 16;

export interface BatchShape {
  /** Bytes from one staged payload to the next: the ring's payloadArea, so a run's payloads go in with one copy. */
  payloadArea: number;
  /** Bytes from one read-back result to the next: the ring's resultArea, so a run's results go back with one copy. */
  resultArea: number;
  /** The constant part of the batch uniform (everything but `count`). */
  params: Uint32Array;
}

/** Where the gather writes a batch: views over the stage's staging memory. */
export interface StagingView {
  /** Message records, MESSAGE_RECORD_BYTES / 4 words apart (MessageRecord). */
  messages: Int32Array;
  /** Payloads, `payloadArea` bytes apart, and the same memory as words. */
  payloads: Uint8Array;
  payloadWords: Int32Array;
}

export class BatchStage {
  /** Messages this stage holds at most right now. */
  capacity = 0;
  /** Messages in the current batch. */
  count = 0;
  /**
   * The batch as runs of contiguous ring slots, in batch order: run r is `runLengths[r]` slots from slot
   * number `runSlots[r]` (slot-layout.ts slotOf). Runs, not a list of slots: gathering and publishing
   * walk them with one addition per message, and a run's payloads, outcomes and results each move in
   * one copy.
   */
  runSlots = new Int32Array(0);
  runLengths = new Int32Array(0);
  /** The DONE each run's slots get (slot-layout.ts doneState: a run never crosses a shard's end, so one lap). */
  runDone = new Int32Array(0);
  runCount = 0;
  /** When the batch was submitted (performance.now()), for the slow wrapper's hold. */
  submittedAt = 0;
  private readonly device: GpuDevice;
  private readonly shape: BatchShape;
  private readonly upload: UploadPath;
  private readonly layout: GpuBindGroupLayout;
  private readonly label: string;
  private readonly countWord = new Uint32Array(1);
  private buffers:
    | {
        params: GpuBuffer;
        messages: GpuBuffer;
        payloads: GpuBuffer;
        outcomes: GpuBuffer;
        results: GpuBuffer;
        readback: GpuBuffer;
        staging?: GpuBuffer;
      }
    | undefined;
  private bindGroup: GpuBindGroup | undefined;
  private hostStaging = new ArrayBuffer(0);
  private view: StagingView | undefined;
  /** The staging buffer's map after a `mapped` submit, awaited by `ready()`. */
  private remap: Promise<void> | undefined;

  constructor(device: GpuDevice, layout: GpuBindGroupLayout, shape: BatchShape, upload: UploadPath, label: string) {
    this.device = device;
    this.layout = layout;
    this.shape = shape;
    this.upload = upload;
    this.label = label;
  }

  /** Bytes of staging memory: the message records, then the payloads. */
  private stagingBytes(capacity: number): number {
    return capacity * (MESSAGE_RECORD_BYTES + this.shape.payloadArea);
  }

  /** Makes room for `capacity` messages (re-creating the buffers when it grows). */
  resize(capacity: number): void {
    if (capacity === this.capacity && this.buffers) return;
    this.destroy();
    const { device, shape, label } = this;
    const storage = (name: string, bytes: number, usage: number): GpuBuffer =>
      device.createBuffer({ label: `${label} ${name}`, size: Math.max(bytes, MIN_BUFFER_BYTES), usage: BufferUsage.STORAGE | usage });
    const params = device.createBuffer({ label: `${label} params`, size: PARAMS_BYTES, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    device.queue.writeBuffer(params, 0, shape.params);
    const messages = storage('messages', capacity * MESSAGE_RECORD_BYTES, BufferUsage.COPY_DST);
    const payloads = storage('payloads', capacity * shape.payloadArea, BufferUsage.COPY_DST);
    const outcomes = storage('outcomes', capacity * OUTCOME_BYTES, BufferUsage.COPY_SRC);
    const results = storage('results', capacity * shape.resultArea, BufferUsage.COPY_SRC);
    const readback = device.createBuffer({
      label: `${label} readback`,
      size: capacity * (OUTCOME_BYTES + shape.resultArea),
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    this.buffers = { params, messages, payloads, outcomes, results, readback };
    if (this.upload === 'mapped') {
      this.buffers.staging = device.createBuffer({
        label: `${label} staging`,
        size: this.stagingBytes(capacity),
        usage: BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
    } else if (this.upload === 'write-buffer') {
      this.hostStaging = new ArrayBuffer(this.stagingBytes(capacity));
    }
    this.bindGroup = device.createBindGroup({
      label: `${label} bindings`,
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: params } },
        { binding: 1, resource: { buffer: messages } },
        { binding: 2, resource: { buffer: payloads } },
        { binding: 3, resource: { buffer: outcomes } },
        { binding: 4, resource: { buffer: results } },
      ],
    });
    this.capacity = capacity;
    this.runSlots = new Int32Array(capacity);
    this.runLengths = new Int32Array(capacity);
    this.runDone = new Int32Array(capacity);
    this.runCount = 0;
    this.view = undefined;
  }

  /** Resolves when the stage can be filled: its staging memory is mapped (`mapped`) or allocated. */
  async ready(): Promise<void> {
    const remap = this.remap;
    this.remap = undefined;
    if (remap) await remap;
    const staging = this.buffers?.staging;
    if (staging && staging.mapState === 'unmapped') await staging.mapAsync(MapMode.WRITE);
  }

  /** Where message i's record and payload go (StagingView). Call after `ready()`. */
  staging(): StagingView {
    if (this.view) return this.view;
    const b = this.buffers;
    if (!b) throw new Error('batch stage used before resize()');
    let memory: ArrayBuffer;
    if (this.upload === 'mapped') {
      memory = (b.staging as GpuBuffer).getMappedRange();
    } else if (this.upload === 'mapped-at-creation') {
      b.staging = this.device.createBuffer({
        label: `${this.label} staging`,
        size: this.stagingBytes(this.capacity),
        usage: BufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
      memory = b.staging.getMappedRange();
    } else {
      memory = this.hostStaging;
    }
    const at = this.capacity * MESSAGE_RECORD_BYTES;
    const bytes = this.capacity * this.shape.payloadArea;
    this.view = {
      messages: new Int32Array(memory, 0, at / 4),
      payloads: new Uint8Array(memory, at, bytes),
      payloadWords: new Int32Array(memory, at, bytes / 4),
    };
    return this.view;
  }

  /**
   * Sends the filled batch (`count` messages) through the kernel and reads its outcomes back; resolves
   * with the mapped readback (`count` outcomes, then `count` result areas), valid until `release()`.
   * Rejects when the device is lost.
   */
  async run(pipeline: GpuComputePipeline): Promise<Uint8Array> {
    const b = this.buffers;
    if (!b || !this.bindGroup) throw new Error('batch stage used before resize()');
    const { device, count, shape } = this;
    const messageBytes = count * MESSAGE_RECORD_BYTES;
    const payloadBytes = count * shape.payloadArea;
    const payloadsAt = this.capacity * MESSAGE_RECORD_BYTES;
    const outcomeBytes = count * OUTCOME_BYTES;
    const resultBytes = count * shape.resultArea;
    this.countWord[0] = count;
    device.queue.writeBuffer(b.params, 0, this.countWord);
    const encoder = device.createCommandEncoder({ label: this.label });
    if (this.upload === 'write-buffer') {
      device.queue.writeBuffer(b.messages, 0, this.hostStaging, 0, messageBytes);
      if (payloadBytes > 0) device.queue.writeBuffer(b.payloads, 0, this.hostStaging, payloadsAt, payloadBytes);
    } else {
      const staging = b.staging as GpuBuffer;
      staging.unmap();
      encoder.copyBufferToBuffer(staging, 0, b.messages, 0, messageBytes);
      if (payloadBytes > 0) encoder.copyBufferToBuffer(staging, payloadsAt, b.payloads, 0, payloadBytes);
    }
    this.view = undefined;
    const pass = encoder.beginComputePass({ label: this.label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(Math.ceil(count / WORKGROUP_SIZE));
    pass.end();
    encoder.copyBufferToBuffer(b.outcomes, 0, b.readback, 0, outcomeBytes);
    if (resultBytes > 0) encoder.copyBufferToBuffer(b.results, 0, b.readback, outcomeBytes, resultBytes);
    device.queue.submit([encoder.finish()]);
    this.submittedAt = performance.now();
    if (this.upload === 'mapped-at-creation') {
      // Destroying after submit is allowed: the submitted copy still reads it.
      b.staging?.destroy();
      b.staging = undefined;
    }
    // Map the staging buffer again now: it resolves once the copies above have read it, so the stage is
    // ready to fill soon after it is released. The outcomes are published without waiting for it
    // (`ready()` does).
    if (this.upload === 'mapped') {
      this.remap = (b.staging as GpuBuffer).mapAsync(MapMode.WRITE);
      // A lost device rejects both; the readback's rejection is the one reported.
      this.remap.catch(() => {});
    }
    await b.readback.mapAsync(MapMode.READ, 0, outcomeBytes + resultBytes);
    return new Uint8Array(b.readback.getMappedRange(0, outcomeBytes + resultBytes));
  }

  /** Unmaps the outcomes after they were published; the stage can take the next batch. */
  release(): void {
    const readback = this.buffers?.readback;
    if (readback?.mapState === 'mapped') readback.unmap();
    this.count = 0;
    this.runCount = 0;
  }

  destroy(): void {
    const b = this.buffers;
    if (!b) return;
    for (const buffer of [b.params, b.messages, b.payloads, b.outcomes, b.results, b.readback, b.staging]) buffer?.destroy();
    this.remap = undefined; // destroying its buffer aborts it (its rejection is already caught)
    this.buffers = undefined;
    this.bindGroup = undefined;
    this.view = undefined;
    this.capacity = 0;
  }
}
