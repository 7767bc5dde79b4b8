// The webgpu engine on the thread it is created on: the Dawn device, the compiled batch pipeline, the
// batch stages and the consumer loop (batch-consumer.ts), which gathers READY slots into batches and keeps
// a few in flight, each one dispatch of kernels/batch_consumer.wgsl with one invocation per message.
// Everything is asynchronous: every wait is a promise. webgpu-engine.ts runs it on the owner thread or,
// by default, in a worker thread (webgpu-worker.ts).
import { EngineUnavailableError, InvalidArgumentError } from '../../core/errors.js';
import { Control, OUTCOME_BYTES } from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import { BatchConsumer } from './batch-consumer.js';
import { type BatchShape, BatchStage, defaultUploadPath, MESSAGE_RECORD_BYTES, PARAMS_BYTES, type UploadPath } from './batch-stage.js';
import { requestAdapter, type WebGpuAdapterDescription } from './dawn.js';
import { type GpuComputePipeline, type GpuDevice, ShaderStage } from './gpu-api.js';
import { buildKernelSource, describeCompilationMessages, ENTRY_POINT, type KernelSource, USER_WGSL_HANDLER } from './kernel-source.js';

export interface DeviceEngineOptions {
  /** Batches in flight at once. **Default:** `3` */
  stages?: number;
  /**
   * Most messages in one batch. Also bounded by the consumer's share of the ring divided by `stages + 1`,
   * so that every stage can be in flight and producers still find room (a batch of the whole ring stalls
   * them until it comes back), and by the device's storage-binding limit. **Default:** `16384`
   */
  maxBatch?: number;
  /** Messages a stage holds before it first grows: a burst of 256 goes in one batch from the start. **Default:** `256` */
  initialBatch?: number;
  /** How message records and payloads reach the GPU (batch-stage.ts). **Default:** `'mapped'` on a GPU, `'write-buffer'` on a software adapter */
  upload?: UploadPath;
  /**
   * Which of the ring's consumers this is: it takes the shards `s` with `s % consumers === consumerIndex`
   * (webgpu-engine.ts runs one per consumer, each on a worker thread). **Default:** every shard
   */
  consumerIndex?: number;
}

const DEFAULTS = { stages: 3, maxBatch: 16384, initialBatch: 256 };
/** The kernel's workgroup size times WebGPU's guaranteed workgroups per dimension. */
const MAX_DISPATCH_MESSAGES = 64 * 65535;

export class DeviceEngine implements Engine {
  readonly name = 'webgpu';
  /** The consumer rings HARVEST_DOORBELL after each batch, as the cpu consumers do. */
  readonly wakesOwner = true;
  private readonly ctx: EngineContext;
  private readonly options: typeof DEFAULTS & { upload?: UploadPath; consumerIndex?: number };
  private adapter: WebGpuAdapterDescription | undefined;
  private device: GpuDevice | undefined;
  private stages: BatchStage[] = [];
  private consumer: BatchConsumer | undefined;
  private source: KernelSource | undefined;
  private maxBatch = 0;
  private stageCount = 0;
  private stopping = false;
  private faulted = false;

  constructor(ctx: EngineContext, options: DeviceEngineOptions = {}) {
    this.ctx = ctx;
    // An option given as undefined keeps its default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULTS, ...given };
  }

  describe(): string {
    const a = this.adapter;
    if (!a) return 'webgpu (not started)';
    return `${a.name}${a.software ? ' (software)' : ''}: batched dispatch, ${this.stageCount} batch${this.stageCount === 1 ? '' : 'es'} of up to ${this.maxBatch} in flight, handler ${this.source?.leaf}`;
  }

  /** Batches and messages run so far (for benchmarks and tests). */
  batchCounts(): { batches: number; messages: number; largestBatch: number } {
    return { ...(this.consumer?.counts ?? { batches: 0, messages: 0, largestBatch: 0 }) };
  }

  /** The device, for tests that lose it on purpose. */
  gpuDevice(): GpuDevice | undefined {
    return this.device;
  }

  async start(): Promise<void> {
    const { ring, handler, config } = this.ctx;
    const source = buildKernelSource(handler);
    this.source = source;
    const { adapter, description } = await requestAdapter();
    this.adapter = description;
    const device = await adapter.requestDevice({ label: 'gpuqueue' });
    this.device = device;
    void device.lost.then((info) => this.fault(new Error(`the WebGPU device was lost (${info.reason}): ${info.message || 'no message'}`)));
    device.onuncapturederror = (event) => this.fault(new Error(`WebGPU error: ${event.error.message}`));
    try {
      const pipeline = await compile(device, source, handler.name === USER_WGSL_HANDLER);
      const layout = ring.layout;
      const shape: BatchShape = {
        payloadArea: layout.payloadArea,
        resultArea: layout.resultArea,
        params: batchParams(layout.payloadArea, layout.resultArea, layout.resultBytes, 1 + ring.control(Control.MAX_RETRIES), source),
      };
      const bindingLimit = device.limits.maxStorageBufferBindingSize;
      const index = this.options.consumerIndex;
      const shards = Array.from({ length: layout.shards }, (_, s) => s).filter(
        (s) => index === undefined || s % layout.consumers === index,
      );
      // The slow wrapper stands for compute on one consumer (the contract's pause and drain cases count
      // on messages finishing one after another): one message at a time, held on the host.
      const serial = source.holdMsPerAttempt > 0;
      this.stageCount = serial ? 1 : this.options.stages;
      this.maxBatch = Math.min(
        serial ? 1 : this.options.maxBatch,
        Math.max(1, Math.floor((shards.length * layout.shardCapacity) / (this.stageCount + 1))),
        Math.floor(bindingLimit / Math.max(shape.payloadArea, shape.resultArea, MESSAGE_RECORD_BYTES, OUTCOME_BYTES)),
        MAX_DISPATCH_MESSAGES,
      );
      if (this.maxBatch < 1) {
        throw new EngineUnavailableError(
          `the webgpu engine cannot bind a payload area of ${shape.payloadArea} or a result area of ${shape.resultArea} bytes: the device binds at most ${bindingLimit} bytes of storage`,
        );
      }
      const layoutGroup = device.createBindGroupLayout({
        label: 'gpuqueue batch',
        entries: [
          { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform' } },
          { binding: 1, visibility: ShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
          { binding: 2, visibility: ShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
          { binding: 3, visibility: ShaderStage.COMPUTE, buffer: { type: 'storage' } },
          { binding: 4, visibility: ShaderStage.COMPUTE, buffer: { type: 'storage' } },
        ],
      });
      const computePipeline = await createPipeline(device, layoutGroup, pipeline);
      const initial = Math.min(this.options.initialBatch, this.maxBatch);
      const upload = this.options.upload ?? defaultUploadPath(description.software);
      for (let i = 0; i < this.stageCount; i++) {
        const stage = new BatchStage(device, layoutGroup, shape, upload, `gpuqueue batch ${i}`);
        stage.resize(initial);
        this.stages.push(stage);
      }
      await Promise.all(this.stages.map((s) => s.ready()));
      this.consumer = new BatchConsumer({
        ring,
        shards,
        stages: this.stages,
        pipeline: computePipeline,
        maxBatch: this.maxBatch,
        spinUs: config.consumerSpinUs,
        holdMsPerAttempt: source.holdMsPerAttempt,
        onFault: (error) => this.ctx.onFault(error),
        loseDevice: () => device.destroy(),
      });
      if (this.faulted) throw new EngineUnavailableError('the WebGPU device failed while the engine started');
      this.consumer.start();
    } catch (error) {
      this.stopping = true;
      this.release();
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ctx.ring.setControl(Control.STOP, 1);
    // After a fault, destroying the device first makes every pending map reject at once instead of hanging.
    if (this.faulted) this.device?.destroy();
    await this.consumer?.stop();
    this.release();
  }

  private release(): void {
    for (const stage of this.stages) stage.destroy();
    this.stages = [];
    this.device?.destroy();
    this.device = undefined;
  }

  /** A lost device or a validation error: the consumer stops touching the ring and the Queue hears once. */
  private fault(error: Error): void {
    if (this.stopping || this.faulted) return;
    this.faulted = true;
    if (this.consumer) this.consumer.fail(error);
  }
}

/** The batch uniform's constant part (batch_consumer.wgsl BatchParams), `count` left 0. */
function batchParams(payloadArea: number, resultArea: number, resultBytes: number, maxAttempts: number, source: KernelSource): Uint32Array {
  const words = new Uint32Array(PARAMS_BYTES / 4);
  words.set([0, payloadArea / 4, resultArea / 4, resultBytes, maxAttempts, source.stages.length]);
  source.stages.forEach((stage, i) => {
    words[8 + i] = stage.kind;
    words.set(stage.words, 12 + 4 * i);
  });
  return words;
}

/** Compiles the module; a compile error names the file and line (a user's source: InvalidArgumentError). */
async function compile(device: GpuDevice, source: KernelSource, userSource: boolean): Promise<ReturnType<GpuDevice['createShaderModule']>> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: `gpuqueue ${source.leaf}`, code: source.code });
  const [info, error] = await Promise.all([module.getCompilationInfo(), device.popErrorScope()]);
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0 || error) {
    const detail = errors.length > 0 ? describeCompilationMessages(source, errors) : (error?.message ?? '');
    const message = `WGSL handler ${source.leaf} does not compile:\n${detail}`;
    throw userSource ? new InvalidArgumentError(message) : new EngineUnavailableError(`the webgpu engine's ${message}`);
  }
  return module;
}

async function createPipeline(
  device: GpuDevice,
  layout: ReturnType<GpuDevice['createBindGroupLayout']>,
  module: ReturnType<GpuDevice['createShaderModule']>,
): Promise<GpuComputePipeline> {
  device.pushErrorScope('validation');
  try {
    return await device.createComputePipelineAsync({
      label: 'gpuqueue batch',
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: ENTRY_POINT },
    });
  } catch (error) {
    throw new InvalidArgumentError(`the WGSL handler does not fit the batch kernel: ${(error as Error).message}`);
  } finally {
    await device.popErrorScope();
  }
}
