// The cuda engine: the shared ring's SharedArrayBuffer registered as mapped pinned memory and consumed
// by one persistent kernel (kernels/persistent_consumer.cu), launched once at start and told to exit
// through Control.STOP. The event loop never blocks on the GPU: readiness, faults and exit are polled
// with cuStreamQuery from timers.
import { readFileSync } from 'node:fs';
import { CudaError, EngineFailedError, EngineUnavailableError } from '../../core/errors.js';
import { Control } from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import { CudaDriver } from './driver/driver.js';
import { loadCudaLibrary } from './driver/library.js';
import { type CudaDeviceInfo, probeCuda } from './driver/probe.js';
import type { NativePointer } from './driver/symbols.js';
import { planKernel } from './launch-params.js';
import { blockThreadsFor } from './plan.js';

export interface CudaEngineOptions {
  /** Device ordinal. **Default:** `0` */
  device?: number;
  /** Where the built PTX lives. **Default:** `dist/kernels/` of this package */
  kernelsDir?: URL;
  /** Longest nap of an idle block, ns: the worst extra latency of the first message after a quiet spell. **Default:** `10000` */
  idleSleepMaxNs?: number;
  /** How long start waits for the kernel's first heartbeat, and stop for its exit. **Default:** `10000` */
  timeoutMs?: number;
}

const KERNEL = 'gq_persistent_consumer';
const DEFAULT_KERNELS_DIR = new URL('../../../kernels/', import.meta.url);
/** How often a running kernel is checked for a fault (a trap, an illegal address) between calls. */
const WATCH_MS = 50;

interface Running {
  driver: CudaDriver;
  deviceHandle: number;
  context: NativePointer;
  module?: NativePointer;
  stream?: NativePointer;
  registered: boolean;
}

export class CudaEngine implements Engine {
  readonly name = 'cuda';
  /** A kernel cannot `Atomics.notify`: the harvester polls. */
  readonly wakesOwner = false;
  private readonly ctx: EngineContext;
  private readonly options: Required<CudaEngineOptions>;
  private device: CudaDeviceInfo | undefined;
  private running: Running | undefined;
  private launchShape = { grid: 0, blockThreads: 0, leaf: '' };
  private watch: NodeJS.Timeout | undefined;
  private faulted = false;

  constructor(ctx: EngineContext, options: CudaEngineOptions = {}) {
    this.ctx = ctx;
    this.options = { device: 0, kernelsDir: DEFAULT_KERNELS_DIR, idleSleepMaxNs: 10_000, timeoutMs: 10_000, ...options };
  }

  describe(): string {
    const d = this.device;
    if (!d) return 'cuda (not started)';
    const { grid, blockThreads, leaf } = this.launchShape;
    return `${d.name} (cc ${d.computeCapability}, ${d.smCount} SMs): persistent kernel, ${grid} blocks × ${blockThreads} threads, handler ${leaf}`;
  }

  async start(): Promise<void> {
    const probe = probeCuda(this.options.device);
    if (!probe.usable) throw new EngineUnavailableError(`the cuda engine cannot run here: ${probe.reason}`);
    this.device = probe.device;
    const { ring, handler } = this.ctx;
    const layout = ring.layout;
    const plan = planKernel(layout, handler, ring.control(Control.MAX_RETRIES), this.options.idleSleepMaxNs);
    const ptxUrl = new URL(`${plan.leaf}.ptx`, this.options.kernelsDir);
    let ptx: string;
    try {
      ptx = readFileSync(ptxUrl, 'latin1');
    } catch (error) {
      throw new EngineUnavailableError(`the cuda engine has no kernel for handler ${plan.leaf} (${ptxUrl.pathname}): run npm run build:kernels`, { cause: error });
    }
    const driver = new CudaDriver(loadCudaLibrary());
    const deviceHandle = driver.device(this.options.device);
    const running: Running = { driver, deviceHandle, context: driver.retainPrimaryContext(deviceHandle), registered: false };
    this.running = running;
    try {
      running.module = driver.loadModule(ptx);
      const fn = driver.kernel(running.module, KERNEL);
      const grid = layout.consumers;
      const blockThreads = blockThreadsFor(layout.shardCapacity);
      const sharedBytes = 4 * Math.ceil(layout.shards / grid);
      // Every block must be resident at once: a block that waits for an SM behind blocks that never exit
      // would leave its shards unconsumed forever.
      const resident = driver.residentBlocksPerSm(fn, blockThreads, sharedBytes) * probe.device.smCount;
      if (resident < grid) throw new EngineUnavailableError(`the ring has ${grid} consumers but ${probe.device.name} holds only ${resident} blocks of ${blockThreads} threads at once`);
      const ringAddress = driver.registerHost(ring.sab);
      running.registered = true;
      if (ringAddress % 16n !== 0n) throw new EngineUnavailableError(`the ring's mapped address ${ringAddress.toString(16)} is not 16-byte aligned, which the kernel's wide loads need`);
      running.stream = driver.createStream();
      const beat = ring.control(Control.HEARTBEAT);
      driver.launch(fn, grid, blockThreads, sharedBytes, running.stream, ringAddress, plan.params);
      this.launchShape = { grid, blockThreads, leaf: plan.leaf };
      await this.waitForStart(running.stream, driver, beat);
    } catch (error) {
      // The caller gets this error; a cleanup failure after it is no separate fault to report.
      this.faulted = true;
      ring.setControl(Control.STOP, 1);
      await this.release().catch(() => undefined);
      throw error;
    }
    this.watch = setInterval(() => this.checkAlive(), WATCH_MS);
    this.watch.unref();
  }

  async stop(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    this.ctx.ring.setControl(Control.STOP, 1);
    await this.release();
  }

  /** Waits for the kernel to exit (STOP must be set), then frees everything; idempotent. */
  private async release(): Promise<void> {
    const running = this.running;
    if (!running) return;
    const { driver } = running;
    let failure: Error | undefined;
    if (running.stream !== undefined) {
      const stream = running.stream;
      try {
        await this.poll('exit after Control.STOP', () => driver.streamState(stream) === 'done');
      } catch (error) {
        // Unpinning memory a live kernel still reads would turn a hang into a crash: keep it, say so.
        if (!(error instanceof CudaError)) throw error;
        failure = error;
      }
    }
    this.running = undefined;
    // After a kernel fault the context is dead and these fail too; free what can be freed.
    const steps: (() => unknown)[] = [
      () => running.stream !== undefined && driver.destroyStream(running.stream),
      () => running.registered && driver.unregisterHost(this.ctx.ring.sab),
      () => running.module !== undefined && driver.unloadModule(running.module),
      () => driver.releasePrimaryContext(running.deviceHandle),
    ];
    for (const step of steps) {
      try {
        step();
      } catch (error) {
        failure ??= error as Error;
      }
    }
    if (failure && !this.faulted) {
      this.faulted = true;
      this.ctx.onFault(failure);
    }
  }

  /** The first heartbeat says every block is resident and consuming; an early exit or a fault says it is not. */
  private waitForStart(stream: NativePointer, driver: CudaDriver, beat: number): Promise<void> {
    const { ring } = this.ctx;
    return this.poll('start', () => {
      if (ring.control(Control.HEARTBEAT) !== beat) return true;
      if (driver.streamState(stream) === 'done') throw new EngineFailedError('the persistent kernel exited as soon as it started');
      return false;
    });
  }

  /**
   * Resolves once `step()` returns true; rejects with what it throws (a CudaError when the kernel failed)
   * or after `timeoutMs`. Checks every millisecond from a timer: the event loop never blocks on the GPU.
   */
  private poll(what: string, step: () => boolean): Promise<void> {
    const deadline = performance.now() + this.options.timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          if (step()) return resolve();
        } catch (error) {
          return reject(error);
        }
        if (performance.now() > deadline) return reject(new EngineFailedError(`the persistent kernel did not ${what} within ${this.options.timeoutMs} ms`));
        setTimeout(check, 1);
      };
      check();
    });
  }

  /** The watchdog: a kernel that faulted (trap, illegal address) fails the queue instead of hanging it. */
  private checkAlive(): void {
    const running = this.running;
    if (!running?.stream || this.faulted) return;
    try {
      if (running.driver.streamState(running.stream) === 'done') throw new EngineFailedError('the persistent kernel exited without Control.STOP');
    } catch (error) {
      this.faulted = true;
      if (this.watch) clearInterval(this.watch);
      this.ctx.onFault(error as Error);
    }
  }
}
