// The webgpu engine: WGSL handlers run through Dawn in batches (device-engine.ts does the work). A shader
// cannot run persistently, so the consumer gathers READY slots into batches and keeps a few in flight.
// Where the consumer runs is measured, not guessed (bench/results/2026-11-24-webgpu-*.json): on a GPU
// machine (H100 through Vulkan, 16 cores) a worker thread of its own (webgpu-worker.ts) moves 1.4-2.2×
// the messages of the owner thread, with the same lone-message round trip within run-to-run noise, and
// leaves the owner's event loop only harvesting; with a software adapter on 2 cores (lavapipe runs the
// shaders on those same cores) the owner thread does as well or up to 2× better. So `thread: 'auto'`
// takes a worker for a hardware adapter on 4 cores or more. A ring cut for several consumers gets one
// worker thread per consumer, each with a device of its own over its shards (shard s → consumer s % C):
// the copies into and out of the stages are host work that one thread bounds. The plan (plan.ts) cuts
// for up to 8 consumers on a GPU, by cores and capacity; on the owner thread one loop takes every shard.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EngineFailedError, EngineUnavailableError, ErrorCode, InvalidArgumentError } from '../../core/errors.js';
import { Control } from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import { probeWebGpu } from './dawn.js';
import { DeviceEngine, type DeviceEngineOptions } from './device-engine.js';
import type { WebGpuWorkerData, WebGpuWorkerMessage } from './webgpu-worker.js';

export interface WebGpuEngineOptions extends DeviceEngineOptions {
  /**
   * Where the consumer runs: a worker thread of its own, the thread that creates the engine, or `auto`: a
   * worker for a hardware adapter on a machine with 4 cores or more, else the owner thread. **Default:** `'auto'`
   */
  thread?: 'worker' | 'owner' | 'auto';
}

const WORKER_URL = new URL('./webgpu-worker.js', import.meta.url);

export class WebGpuEngine implements Engine {
  readonly name = 'webgpu';
  /** The consumer rings HARVEST_DOORBELL after each batch, from whichever thread it runs on. */
  readonly wakesOwner = true;
  private readonly ctx: EngineContext;
  private readonly options: WebGpuEngineOptions;
  private local: DeviceEngine | undefined;
  private workers: ConsumerThread[] = [];
  private detail = 'webgpu (not started)';
  private counts = { batches: 0, messages: 0, largestBatch: 0 };
  private stopping = false;
  private faulted = false;

  constructor(ctx: EngineContext, options: WebGpuEngineOptions = {}) {
    this.ctx = ctx;
    this.options = options;
  }

  describe(): string {
    return this.local ? `${this.local.describe()}; owner thread` : this.detail;
  }

  /** Batches and messages run so far (for benchmarks and tests; from a worker, as of its stop). */
  batchCounts(): { batches: number; messages: number; largestBatch: number } {
    return this.local ? this.local.batchCounts() : { ...this.counts };
  }

  /** The Dawn device when the consumer runs on this thread (`thread: 'owner'`), for tests and diagnostics. */
  gpuDevice(): ReturnType<DeviceEngine['gpuDevice']> {
    return this.local?.gpuDevice();
  }

  async start(): Promise<void> {
    const { thread = 'auto', ...deviceOptions } = this.options;
    // A ring cut for several consumers (plan.ts) gets their threads under `auto`.
    const several = this.ctx.ring.layout.consumers > 1;
    if (thread === 'owner' || (thread === 'auto' && !several && !(await workerPays()))) {
      this.local = new DeviceEngine(this.ctx, deviceOptions);
      return this.local.start();
    }
    return this.startWorker(deviceOptions);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ctx.ring.setControl(Control.STOP, 1);
    if (this.local) return this.local.stop();
    const workers = this.workers;
    this.workers = [];
    for (const w of workers) w.worker.postMessage('stop');
    await Promise.all(workers.map((w) => w.stopped));
    await Promise.all(workers.map((w) => w.worker.terminate()));
    this.counts = { batches: 0, messages: 0, largestBatch: 0 };
    for (const w of workers) {
      this.counts.batches += w.counts.batches;
      this.counts.messages += w.counts.messages;
      this.counts.largestBatch = Math.max(this.counts.largestBatch, w.counts.largestBatch);
    }
  }

  /**
   * One worker thread per consumer of the ring, each with a device and a batch loop over its own shards
   * (shard s → consumer s % consumers, as for the cpu engine): the host copies into and out of the
   * stages, which bound one thread (bench/webgpu-host.mjs), then spread over cores. Resolves once every
   * one is ready; the first that fails to start stops the others.
   */
  private async startWorker(options: DeviceEngineOptions): Promise<void> {
    const consumers = Math.max(1, this.ctx.ring.layout.consumers);
    const started = Array.from({ length: consumers }, (_, i) =>
      this.startOneWorker({ ...options, consumerIndex: consumers > 1 ? i : undefined }),
    );
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.stopping = true;
      await Promise.all(this.workers.map((w) => w.worker.terminate()));
      this.workers = [];
      throw failed.reason;
    }
    const details = results.map((r) => (r as PromiseFulfilledResult<string>).value);
    this.detail = consumers > 1 ? `${details[0]}; ${consumers} worker threads, one per consumer` : `${details[0]}; worker thread`;
  }

  private startOneWorker(options: DeviceEngineOptions): Promise<string> {
    const { ring, handler, config } = this.ctx;
    const data: WebGpuWorkerData = { sab: ring.sab, handler, config, options };
    const worker = new Worker(WORKER_URL, { workerData: data, name: 'gpuqueue-webgpu' });
    let resolveStopped: () => void = () => {};
    const entry: ConsumerThread = {
      worker,
      stopped: new Promise<void>((resolve) => {
        resolveStopped = resolve;
      }),
      counts: { batches: 0, messages: 0, largestBatch: 0 },
    };
    this.workers.push(entry);
    return new Promise<string>((resolve, reject) => {
      let started = false;
      const fault = (error: Error) => {
        if (this.stopping || this.faulted) return;
        this.faulted = true;
        this.ctx.onFault(error);
      };
      worker.on('message', (m: WebGpuWorkerMessage) => {
        if (m.type === 'ready') {
          started = true;
          resolve(m.describe);
        } else if (m.type === 'start-failed') {
          void worker.terminate();
          reject(rebuildStartError(m));
        } else if (m.type === 'fault') {
          fault(new Error(m.message));
        } else if (m.type === 'stopped') {
          entry.counts = m.counts;
          resolveStopped();
        }
      });
      worker.on('error', (error) => {
        if (!started) reject(error);
        else fault(new EngineFailedError(`the webgpu consumer thread failed: ${error.message}`, { cause: error }));
      });
      worker.once('exit', (code) => {
        resolveStopped();
        if (!started) reject(new EngineFailedError(`the webgpu consumer thread exited while starting (code ${code})`));
        else if (!this.stopping) fault(new EngineFailedError(`the webgpu consumer thread exited unexpectedly (code ${code})`));
      });
    });
  }
}

interface ConsumerThread {
  worker: Worker;
  /** Resolves when the thread reported its counts after 'stop', or exited. */
  stopped: Promise<void>;
  counts: { batches: number; messages: number; largestBatch: number };
}

/** Whether a consumer thread of its own pays off here (see the top of this file). */
async function workerPays(): Promise<boolean> {
  const probe = await probeWebGpu();
  return probe.usable && !probe.adapter.software && availableParallelism() >= 4;
}

/** A start failure from the worker as the class it was there (errors cross threads as plain data). */
function rebuildStartError(m: { name: string; code: string | undefined; message: string }): Error {
  if (m.code === ErrorCode.ENGINE_UNAVAILABLE) return new EngineUnavailableError(m.message);
  if (m.code === ErrorCode.INVALID_ARG) return new InvalidArgumentError(m.message);
  const error = new Error(m.message);
  error.name = m.name;
  return error;
}
