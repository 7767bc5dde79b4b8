// One batch in flight: the GPU buffers it goes through (slot records in, outcome records out, a readback
// buffer to map) and the ring positions it holds. The engine keeps a few stages and cycles them, so while
// one batch runs on the GPU the next is being gathered and the one before is being published. A stage
// starts small and doubles when a batch fills it: under load batches grow, idle ones stay cheap.
import { alignUp } from '../../core/slot-layout.js';
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
 * How slot records reach the GPU. dawn.node crashes when handed memory of a SharedArrayBuffer, so each
 * way copies the records once out of the ring in JS, into:
 * - `write-buffer`: an ordinary ArrayBuffer, then `queue.writeBuffer` (Dawn copies it again, into its own staging);
 * - `mapped`: a MAP_WRITE staging buffer kept mapped between batches, then `copyBufferToBuffer` on the GPU;
 * - `mapped-at-creation`: a fresh staging buffer per batch, created mapped, then `copyBufferToBuffer`.
 * bench/webgpu.mjs measures the three (bench/results/2026-11-24-webgpu-*.json). On a GPU (H100, Vulkan)
 * `mapped` is fastest: 2.0 M msg/s of 256 B, and 4× the others at 4 KB (0.47 M msg/s); with a software
 * adapter, whose "GPU memory" is host memory, `write-buffer` is (1.2-1.5× at 4 KB). Hence the default.
 */
export type UploadPath = 'write-buffer' | 'mapped' | 'mapped-at-creation';
export const defaultUploadPath = (softwareAdapter: boolean): UploadPath => (softwareAdapter ? 'write-buffer' : 'mapped');

/** Bytes before the result area in an outcome record (batch_consumer.wgsl OUTCOME_HEADER_WORDS × 4). */
export const OUTCOME_HEADER_BYTES = 16;
/** Invocations per workgroup (batch_consumer.wgsl @workgroup_size). */
export const WORKGROUP_SIZE = 64;
/** Bytes of the batch uniform (batch_consumer.wgsl BatchParams). */
export const PARAMS_BYTES = 112;

export interface BatchShape {
  /**
   * Bytes from one slot record to the next: the ring's whole slot stride when slots are staged as the
   * ring lays them out (`wholeSlots`), else the slot's header and payload area (the ring's resultOffset).
   */
  slotRecordBytes: number;
  /**
   * Whether a run of contiguous ring slots is staged with one copy, result areas included (the kernel
   * skips them: its record stride is the slot stride), rather than one copy per message of its header
   * and payload. device-engine.ts chooses (see `stagesWholeSlots`).
   */
  wholeSlots: boolean;
  /** Bytes of one outcome record: OUTCOME_HEADER_BYTES + the result area. */
  outcomeRecordBytes: number;
  /** The constant part of the batch uniform (everything but `count`). */
  params: Uint32Array;
}

export const outcomeRecordBytes = (resultBytes: number): number => OUTCOME_HEADER_BYTES + alignUp(resultBytes, 16);

export class BatchStage {
  /** Messages this stage holds at most right now. */
  capacity = 0;
  /** Messages in the current batch. */
  count = 0;
  /**
   * The batch as runs of contiguous ring slots, in batch order: run r is `runLengths[r]` slots from byte
   * offset `runOffsets[r]`, one slot stride apart. Runs, not a list of slots: gathering and publishing
   * walk them with one addition per message, and a run is what `wholeSlots` stages in one copy.
   */
  runOffsets = new Float64Array(0);
  runLengths = new Int32Array(0);
  runCount = 0;
  /** When the batch was submitted (performance.now()), for the slow wrapper's hold. */
  submittedAt = 0;
  private readonly device: GpuDevice;
  private readonly shape: BatchShape;
  private readonly upload: UploadPath;
  private readonly layout: GpuBindGroupLayout;
  private readonly label: string;
  private readonly countWord = new Uint32Array(1);
  private buffers: { params: GpuBuffer; slots: GpuBuffer; outcomes: GpuBuffer; readback: GpuBuffer; staging?: GpuBuffer } | undefined;
  private bindGroup: GpuBindGroup | undefined;
  private hostRecords = new Uint8Array(0);
  private records: Uint8Array | undefined;
  /** The staging buffer's map after a `mapped` submit, awaited by `ready()`. */
  private remap: Promise<void> | undefined;

  constructor(device: GpuDevice, layout: GpuBindGroupLayout, shape: BatchShape, upload: UploadPath, label: string) {
    this.device = device;
    this.layout = layout;
    this.shape = shape;
    this.upload = upload;
    this.label = label;
  }

  /** Makes room for `capacity` messages (re-creating the buffers when it grows). */
  resize(capacity: number): void {
    if (capacity === this.capacity && this.buffers) return;
    this.destroy();
    const { device, shape, label } = this;
    const slotBytes = capacity * shape.slotRecordBytes;
    const outcomeBytes = capacity * shape.outcomeRecordBytes;
    const params = device.createBuffer({ label: `${label} params`, size: PARAMS_BYTES, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    device.queue.writeBuffer(params, 0, shape.params);
    const slots = device.createBuffer({ label: `${label} slots`, size: slotBytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    const outcomes = device.createBuffer({
      label: `${label} outcomes`,
      size: outcomeBytes,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC,
    });
    const readback = device.createBuffer({
      label: `${label} readback`,
      size: outcomeBytes,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    this.buffers = { params, slots, outcomes, readback };
    if (this.upload === 'mapped') {
      this.buffers.staging = device.createBuffer({
        label: `${label} staging`,
        size: slotBytes,
        usage: BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
    } else if (this.upload === 'write-buffer') {
      this.hostRecords = new Uint8Array(slotBytes);
    }
    this.bindGroup = device.createBindGroup({
      label: `${label} bindings`,
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: params } },
        { binding: 1, resource: { buffer: slots } },
        { binding: 2, resource: { buffer: outcomes } },
      ],
    });
    this.capacity = capacity;
    this.runOffsets = new Float64Array(capacity);
    this.runLengths = new Int32Array(capacity);
    this.runCount = 0;
    this.records = undefined;
  }

  /** Resolves when the stage can be filled: its staging memory is mapped (`mapped`) or allocated. */
  async ready(): Promise<void> {
    const remap = this.remap;
    this.remap = undefined;
    if (remap) await remap;
    const staging = this.buffers?.staging;
    if (staging && staging.mapState === 'unmapped') await staging.mapAsync(MapMode.WRITE);
  }

  /** Where slot record i goes: `recordsView()[i × slotRecordBytes …]`. Call after `ready()`. */
  recordsView(): Uint8Array {
    if (this.records) return this.records;
    const b = this.buffers;
    if (!b) throw new Error('batch stage used before resize()');
    if (this.upload === 'mapped') {
      this.records = new Uint8Array((b.staging as GpuBuffer).getMappedRange());
    } else if (this.upload === 'mapped-at-creation') {
      b.staging = this.device.createBuffer({
        label: `${this.label} staging`,
        size: this.capacity * this.shape.slotRecordBytes,
        usage: BufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
      this.records = new Uint8Array(b.staging.getMappedRange());
    } else {
      this.records = this.hostRecords;
    }
    return this.records;
  }

  /**
   * Sends the filled batch (`count` records) through the kernel and reads its outcomes back; resolves with
   * the mapped outcome records, valid until `release()`. Rejects when the device is lost.
   */
  async run(pipeline: GpuComputePipeline): Promise<Uint8Array> {
    const b = this.buffers;
    if (!b || !this.bindGroup) throw new Error('batch stage used before resize()');
    const { device, count, shape } = this;
    const slotBytes = count * shape.slotRecordBytes;
    const outcomeBytes = count * shape.outcomeRecordBytes;
    this.countWord[0] = count;
    device.queue.writeBuffer(b.params, 0, this.countWord);
    const encoder = device.createCommandEncoder({ label: this.label });
    if (this.upload === 'write-buffer') {
      device.queue.writeBuffer(b.slots, 0, this.hostRecords.buffer, 0, slotBytes);
    } else {
      const staging = b.staging as GpuBuffer;
      staging.unmap();
      encoder.copyBufferToBuffer(staging, 0, b.slots, 0, slotBytes);
    }
    this.records = undefined;
    const pass = encoder.beginComputePass({ label: this.label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(Math.ceil(count / WORKGROUP_SIZE));
    pass.end();
    encoder.copyBufferToBuffer(b.outcomes, 0, b.readback, 0, outcomeBytes);
    device.queue.submit([encoder.finish()]);
    this.submittedAt = performance.now();
    if (this.upload === 'mapped-at-creation') {
      // Destroying after submit is allowed: the submitted copy still reads it.
      b.staging?.destroy();
      b.staging = undefined;
    }
    // Map the staging buffer again now: it resolves once the copy above has read it, so the stage is
    // ready to fill soon after it is released. The outcomes are published without waiting for it
    // (`ready()` does).
    if (this.upload === 'mapped') {
      this.remap = (b.staging as GpuBuffer).mapAsync(MapMode.WRITE);
      // A lost device rejects both; the readback's rejection is the one reported.
      this.remap.catch(() => {});
    }
    await b.readback.mapAsync(MapMode.READ, 0, outcomeBytes);
    return new Uint8Array(b.readback.getMappedRange(0, outcomeBytes));
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
    for (const buffer of [b.params, b.slots, b.outcomes, b.readback, b.staging]) buffer?.destroy();
    this.remap = undefined; // destroying its buffer aborts it (its rejection is already caught)
    this.buffers = undefined;
    this.bindGroup = undefined;
    this.records = undefined;
    this.capacity = 0;
  }
}
