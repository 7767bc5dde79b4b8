// The cuda engine: the shared ring's SharedArrayBuffer registered as mapped pinned memory and consumed
// by one persistent kernel (kernels/persistent_consumer.cu), launched once at start and told to exit
// through Control.STOP. The event loop never blocks on the GPU: readiness, faults and exit are polled
// with cuStreamQuery from timers. A kernel fault (trap, illegal address) is sticky: on the driver we
// measured (580) it leaves CUDA unusable for the rest of the process (no reset, release or new context
// brings it back: scripts/gpu-ctx-recovery.mjs). So stop() after a fault never throws or hangs (it
// resets the context, which also kills a kernel that would not exit), the probe then reports CUDA
// unusable here, and later cuda queues fail at once with that reason while `auto` moves on.
//
// Diagnostics (environment, read when an engine is built; measurements in bench/results/*cuda*):
// GPUQUEUE_CUDA_WAKE=poll|watch|legacy (wake mode), GPUQUEUE_CUDA_KERNELS_DIR (another PTX build), GPUQUEUE_CUDA_IDLE_NS (idle nap cap),
// GPUQUEUE_CUDA_STAGING=global (never stage in shared memory), GPUQUEUE_CUDA_TRACE=1 (room for the phase
// stamps of a -DGQ_TRACE build; readTrace()), GPUQUEUE_CUDA_TIMEOUT_MS (start and stop waits: raise it
// under compute-sanitizer).
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CudaError, EngineFailedError, EngineUnavailableError } from '../../core/errors.js';
import { Control, SlotState } from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import { CudaDriver } from './driver/driver.js';
import { loadCudaLibrary } from './driver/library.js';
import { type CudaDeviceInfo, markCudaPoisoned, probeCuda } from './driver/probe.js';
import { DeviceAttribute, type NativePointer } from './driver/symbols.js';
import {
  dynamicSharedBytes,
  handlerLeaf,
  handlerLeafSpec,
  MAX_CONSUMERS,
  planKernel,
  SCRATCH_STAGING_OFFSET,
  scratchBytes,
  TRACE_FIELDS,
  TRACE_RECORD_BYTES,
  TRACE_RECORDS,
  WakeMode,
  type WakeModeName,
} from './launch-params.js';
import { blockThreadsFor } from './plan.js';
import { buildUserKernel } from './user-kernel.js';

export interface CudaEngineOptions {
  /** Device ordinal. **Default:** `0` */
  device?: number;
  /** Where the built PTX lives. **Default:** `dist/kernels/` of this package */
  kernelsDir?: URL;
  /** Longest nap of an idle block, ns: the worst extra latency of the first message after a quiet spell. **Default:** `10000` */
  idleSleepMaxNs?: number;
  /** How long start waits for the kernel's first heartbeat, and stop for its exit. **Default:** `10000` */
  timeoutMs?: number;
  /**
   * How a block learns its shard has new work: `poll` (each block polls its own shard, one PCIe round
   * trip per look), `watch` (the watcher polls the producers' counter Control.PUBLISHED and tells the
   * blocks through device memory; a block polls its shard only while it has work: lone round trips
   * 2-3 µs slower, batches no faster in a same-boot A/B on the H100, whose run-to-run spread is 2×:
   * bench/results/2026-11-24-cuda-host-path-h100.md), `legacy` (poll, and each block reads STOP and
   * PAUSED over PCIe too: the old kernel's polling, for measurements). **Default:** `poll`; env
   * GPUQUEUE_CUDA_WAKE overrides.
   */
  wake?: WakeModeName;
}

const KERNEL = 'gq_persistent_consumer';
/** Control.STOP value that makes the kernel's watcher trap (kernels/persistent_consumer.cu STOP_ABORT). */
const STOP_ABORT = 2;
/** The handler name of a user's CUDA source (src/handlers/cuda). */
const USER_CUDA_HANDLER = 'cuda';
const WAKE_MODES: readonly WakeModeName[] = ['watch', 'poll', 'legacy'];
/** Errors a kernel leaves on its context for good (cuda.h: "the process must terminate" or reset the context). */
const STICKY_ERRORS = new Set([
  'CUDA_ERROR_LAUNCH_FAILED',
  'CUDA_ERROR_ILLEGAL_ADDRESS',
  'CUDA_ERROR_ILLEGAL_INSTRUCTION',
  'CUDA_ERROR_MISALIGNED_ADDRESS',
  'CUDA_ERROR_INVALID_ADDRESS_SPACE',
  'CUDA_ERROR_INVALID_PC',
  'CUDA_ERROR_HARDWARE_STACK_ERROR',
  'CUDA_ERROR_ASSERT',
  'CUDA_ERROR_LAUNCH_TIMEOUT',
  'CUDA_ERROR_ECC_UNCORRECTABLE',
]);
const DEFAULT_KERNELS_DIR = new URL('../../../kernels/', import.meta.url);
/** How often a running kernel is checked for a fault (a trap, an illegal address) between calls. */
const WATCH_MS = 50;

interface Running {
  driver: CudaDriver;
  deviceHandle: number;
  context: NativePointer;
  module?: NativePointer;
  stream?: NativePointer;
  scratch?: bigint;
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
  private launchShape = { grid: 0, blockThreads: 0, leaf: '', wake: '', staging: '' };
  /** GPUQUEUE_CUDA_TRACE=1 (with a -DGQ_TRACE kernel build): keep room for the kernel's phase timestamps. */
  private readonly trace = process.env.GPUQUEUE_CUDA_TRACE === '1';
  private watch: NodeJS.Timeout | undefined;
  private faulted = false;
  /** The last heartbeat seen, and when (performance.now()): the watchdog reads their age. */
  private lastBeat = 0;
  private lastBeatAt = 0;
  /** Why the watchdog asked the kernel to trap (Control.STOP = 2), and when. */
  private stallReason: string | undefined;
  private abortAskedAt = 0;
  /** Set when even the abort went unanswered: stop() then leaves the kernel and context as they are. */
  private stalled = false;
  /** Where the kernel's PTX came from, for describe(): the build, or NVRTC. */
  private kernelOrigin = 'built by npm run build:kernels';

  constructor(ctx: EngineContext, options: CudaEngineOptions = {}) {
    this.ctx = ctx;
    const env = process.env;
    const envWake = env.GPUQUEUE_CUDA_WAKE as WakeModeName | undefined;
    if (envWake !== undefined && !WAKE_MODES.includes(envWake)) {
      throw new EngineUnavailableError(`GPUQUEUE_CUDA_WAKE must be one of ${WAKE_MODES.join(', ')}; got ${envWake}`);
    }
    this.options = {
      device: 0,
      kernelsDir: env.GPUQUEUE_CUDA_KERNELS_DIR ? pathToFileURL(`${resolvePath(env.GPUQUEUE_CUDA_KERNELS_DIR)}/`) : DEFAULT_KERNELS_DIR,
      idleSleepMaxNs: env.GPUQUEUE_CUDA_IDLE_NS ? Number(env.GPUQUEUE_CUDA_IDLE_NS) : 10_000,
      timeoutMs: env.GPUQUEUE_CUDA_TIMEOUT_MS ? Number(env.GPUQUEUE_CUDA_TIMEOUT_MS) : 10_000,
      wake: 'poll',
      ...options,
    };
    if (envWake !== undefined) this.options.wake = envWake;
  }

  describe(): string {
    const d = this.device;
    if (!d) return 'cuda (not started)';
    const { grid, blockThreads, leaf, wake, staging } = this.launchShape;
    return `${d.name} (cc ${d.computeCapability}, ${d.smCount} SMs): persistent kernel, ${grid - 1} consumer blocks × ${blockThreads} threads + a watcher, wake ${wake}, staging in ${staging} memory, handler ${leaf} (${this.kernelOrigin})`;
  }

  async start(): Promise<void> {
    const probe = probeCuda(this.options.device);
    if (!probe.usable) throw new EngineUnavailableError(`the cuda engine cannot run here: ${probe.reason}`);
    this.device = probe.device;
    const { ring, handler } = this.ctx;
    const layout = ring.layout;
    const consumers = layout.consumers;
    if (consumers > MAX_CONSUMERS)
      throw new EngineUnavailableError(`the cuda engine runs at most ${MAX_CONSUMERS} consumer blocks; the ring has ${consumers}`);
    const wake = this.options.wake;
    const ptx = this.kernelPtx();
    const driver = new CudaDriver(loadCudaLibrary());
    const deviceHandle = driver.device(this.options.device);
    const running: Running = { driver, deviceHandle, context: this.retainContext(driver, deviceHandle), registered: false };
    this.running = running;
    try {
      running.module = driver.loadModule(ptx);
      const fn = driver.kernel(running.module, KERNEL);
      const grid = consumers + 1; // the last block is the watcher
      const blockThreads = blockThreadsFor(layout.shardCapacity);
      // Every block must be resident at once: a block that waits for an SM behind blocks that never exit
      // would leave its shards unconsumed forever. Payloads are staged in shared memory (the handler then
      // reads them at shared-memory latency) when that fits and keeps every block resident, else in L2.
      const residentWith = (bytes: number) => driver.residentBlocksPerSm(fn, blockThreads, bytes) * probe.device.smCount;
      let stagingShared = process.env.GPUQUEUE_CUDA_STAGING !== 'global';
      let sharedBytes = dynamicSharedBytes(layout, consumers, blockThreads, stagingShared);
      const sharedLimit = driver.attribute(deviceHandle, DeviceAttribute.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) - driver.staticSharedBytes(fn);
      if (stagingShared && sharedBytes <= sharedLimit) {
        if (sharedBytes > 48 * 1024) driver.allowDynamicShared(fn, sharedBytes);
        if (residentWith(sharedBytes) < grid) stagingShared = false;
      } else {
        stagingShared = false;
      }
      if (!stagingShared) sharedBytes = dynamicSharedBytes(layout, consumers, blockThreads, false);
      const resident = residentWith(sharedBytes);
      if (resident < grid)
        throw new EngineUnavailableError(
          `the ring has ${consumers} consumers (+1 watcher) but ${probe.device.name} holds only ${resident} blocks of ${blockThreads} threads at once`,
        );
      const ringAddress = driver.registerHost(ring.sab);
      running.registered = true;
      if (ringAddress % 16n !== 0n)
        throw new EngineUnavailableError(
          `the ring's mapped address ${ringAddress.toString(16)} is not 16-byte aligned, which the kernel's wide loads need`,
        );
      running.stream = driver.createStream();
      const bytes = scratchBytes(layout, consumers, blockThreads, this.trace);
      running.scratch = driver.allocDevice(bytes);
      driver.fillDeviceAsync(running.scratch, 0, bytes, running.stream);
      const plan = planKernel(layout, handler, ring.control(Control.MAX_RETRIES), this.options.idleSleepMaxNs, {
        consumers,
        blockThreads,
        scratch: running.scratch,
        wakeMode: WakeMode[wake.toUpperCase() as keyof typeof WakeMode],
        publishWord: wake === 'watch' ? Control.PUBLISHED : 0,
        stagingShared,
      });
      const beat = ring.control(Control.HEARTBEAT);
      driver.launch(fn, grid, blockThreads, sharedBytes, running.stream, ringAddress, plan.params);
      this.launchShape = { grid, blockThreads, leaf: plan.leaf, wake, staging: stagingShared ? 'shared' : 'global' };
      await this.waitForStart(running.stream, driver, beat);
      this.lastBeat = ring.control(Control.HEARTBEAT);
      this.lastBeatAt = performance.now();
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

  /** The PTX to load: the build's for a built-in leaf handler, NVRTC's for a user's CUDA source (cached on disk). */
  private kernelPtx(): string {
    const { handler } = this.ctx;
    const leaf = handlerLeaf(handler);
    if (leaf === USER_CUDA_HANDLER) {
      const device = this.device as CudaDeviceInfo;
      const built = buildUserKernel(handlerLeafSpec(handler).params.source as string, device.computeCapability);
      this.kernelOrigin = built.cached
        ? `NVRTC ${built.nvrtcVersion}, from the disk cache`
        : `NVRTC ${built.nvrtcVersion}, compiled in ${Math.round(built.compileMs)} ms`;
      return built.ptx;
    }
    const ptxUrl = new URL(`${leaf}.ptx`, this.options.kernelsDir);
    try {
      return readFileSync(ptxUrl, 'latin1');
    } catch (error) {
      throw new EngineUnavailableError(
        `the cuda engine has no kernel for handler ${leaf} (${ptxUrl.pathname}): run npm run build:kernels`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * Retains the device's primary context. One left dead by an earlier fault (in this process, by any
   * user) answers with that fault's error: reset it once and retain a fresh one.
   */
  private retainContext(driver: CudaDriver, device: number): NativePointer {
    try {
      return driver.retainPrimaryContext(device);
    } catch (error) {
      if (!isSticky(error)) throw error;
      // Another user's fault: try a reset once (drivers that contain the fault recover; 580 does not).
      try {
        this.resetContext(driver, device);
        return driver.retainPrimaryContext(device);
      } catch {
        noteSticky(error);
        throw new EngineUnavailableError(poisonedReason(error as CudaError), { cause: error });
      }
    }
  }

  /**
   * The kernel's phase timestamps of the last TRACE_RECORDS messages of each block (a diagnostic: needs
   * GPUQUEUE_CUDA_TRACE=1 and a kernel built with -DGQ_TRACE; scripts/gpu-latency.mjs reads them).
   */
  readTrace(): Record<(typeof TRACE_FIELDS)[number], bigint>[] {
    const running = this.running;
    if (!this.trace || running?.scratch === undefined) return [];
    const { layout } = this.ctx.ring;
    const consumers = layout.consumers;
    const at = running.scratch + BigInt(SCRATCH_STAGING_OFFSET + consumers * this.launchShape.blockThreads * layout.payloadArea);
    const bytes = new Uint8Array(consumers * TRACE_RECORDS * TRACE_RECORD_BYTES);
    running.driver.copyToHost(bytes, at);
    const words = new BigUint64Array(bytes.buffer);
    const records = [];
    for (let r = 0; r < words.length / TRACE_FIELDS.length; r++) {
      const record = Object.fromEntries(TRACE_FIELDS.map((f, i) => [f, words[r * TRACE_FIELDS.length + i] as bigint]));
      if (record.done !== 0n) records.push(record as Record<(typeof TRACE_FIELDS)[number], bigint>);
    }
    return records;
  }

  /** Resets the primary context with no context current on this thread (the dead one may not stay current). */
  private resetContext(driver: CudaDriver, device: number): void {
    driver.clearCurrent();
    driver.resetPrimaryContext(device);
  }

  async stop(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    // An abort the watchdog asked for stands: a plain STOP would let the watcher exit and the stuck block run on.
    if (this.stallReason === undefined) this.ctx.ring.setControl(Control.STOP, 1);
    await this.release();
  }

  /**
   * Waits for the kernel to exit (STOP must be set), then frees everything; idempotent. Never throws: a
   * failure is reported through onFault (once). A kernel that faulted, or that did not exit in time,
   * leaves a context that cannot be cleaned piecemeal: release it and reset it, which kills a kernel
   * that would not exit (a cpu fallback then owns its slots alone) and frees everything of it. (After a
   * sticky fault CUDA stays unusable in this process all the same: driver/probe.ts markCudaPoisoned.)
   */
  private async release(): Promise<void> {
    const running = this.running;
    if (!running) return;
    const { driver } = running;
    let failure: Error | undefined;
    // After a fault the query answers at once with the fault's error; a live kernel exits on STOP.
    if (this.stalled) {
      // Not answering even the abort: any call that waits for the GPU (a reset does) would hang here.
      this.running = undefined;
      return;
    }
    let dead = false;
    if (running.stream !== undefined) {
      const stream = running.stream;
      try {
        await this.poll('exit after Control.STOP', () => driver.streamState(stream) === 'done');
      } catch (error) {
        noteSticky(error);
        failure = error as Error;
        dead = true;
      }
    }
    this.running = undefined;
    const steps: (() => unknown)[] = dead
      ? [() => driver.releasePrimaryContext(running.deviceHandle), () => this.resetContext(driver, running.deviceHandle)]
      : [
          () => running.stream !== undefined && driver.destroyStream(running.stream),
          () => running.scratch !== undefined && driver.freeDevice(running.scratch),
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
        if (performance.now() > deadline)
          return reject(new EngineFailedError(`the persistent kernel did not ${what} within ${this.options.timeoutMs} ms`));
        setTimeout(check, 1);
      };
      check();
    });
  }

  private describeInFlight(): string {
    const ids = inFlightIds(this.ctx.ring, 8);
    return ids.length === 0 ? 'no message is in flight' : `in flight: message${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`;
  }

  heartbeatAgeMs(): number | undefined {
    if (!this.running || this.lastBeatAt === 0) return undefined;
    const beat = this.ctx.ring.control(Control.HEARTBEAT);
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.lastBeatAt = performance.now();
    }
    return performance.now() - this.lastBeatAt;
  }

  /**
   * The watchdog: a kernel that faulted (trap, illegal address) fails the queue instead of hanging it,
   * and so does one whose heartbeat stopped (the watcher beats only while every block makes progress: a
   * block stuck in a handler that never returns stops it). A stuck kernel cannot be told to exit (its
   * thread never reads STOP again), and a context reset would wait for it, so the host asks the watcher
   * to trap (Control.STOP = 2): the kernel dies as a crashed one does, and the fault path (fail, or
   * fall back to cpu) takes over. A GPU that does not even answer that within another watchdogMs is
   * failed as it is, left running.
   */
  private checkAlive(): void {
    const running = this.running;
    if (!running?.stream || this.faulted) return;
    try {
      try {
        if (running.driver.streamState(running.stream) === 'done')
          throw new EngineFailedError('the persistent kernel exited without Control.STOP');
      } catch (error) {
        // The trap the watchdog asked for: report why it was asked.
        if (this.stallReason !== undefined) throw new EngineFailedError(this.stallReason, { cause: error });
        throw error;
      }
      const now = performance.now();
      const limit = this.ctx.config.watchdogMs;
      if (this.stallReason === undefined) {
        const age = this.heartbeatAgeMs() ?? 0;
        if (age > limit) {
          this.stallReason = `the persistent kernel's heartbeat stopped ${Math.round(age)} ms ago (watchdogMs ${limit}): a handler has not returned; ${this.describeInFlight()}`;
          this.abortAskedAt = now;
          this.ctx.ring.setControl(Control.STOP, STOP_ABORT);
        }
      } else if (now - this.abortAskedAt > limit) {
        this.stalled = true;
        throw new EngineFailedError(`${this.stallReason}; the kernel did not answer the abort either (the GPU is not responding)`);
      }
    } catch (error) {
      noteSticky(error instanceof EngineFailedError && error.cause !== undefined ? error.cause : error);
      this.faulted = true;
      if (this.watch) clearInterval(this.watch);
      this.ctx.onFault(error as Error);
    }
  }
}

/** What the GPU holds now, for the watchdog's message: the ids of INFLIGHT slots (a few). */
function inFlightIds(ring: EngineContext['ring'], max: number): number[] {
  const ids: number[] = [];
  for (const slot of ring.unharvestedSlots()) {
    if (ring.stateOf(slot) === SlotState.INFLIGHT) ids.push(ring.idAt(slot));
    if (ids.length >= max) break;
  }
  return ids;
}

const isSticky = (error: unknown): error is CudaError => error instanceof CudaError && STICKY_ERRORS.has(error.cudaErrorName);

const poisonedReason = (error: CudaError): string =>
  `a CUDA kernel fault in this process (${error.cudaErrorName}) left the GPU unusable until the process restarts: the driver refuses every new context after it`;

/** A sticky fault poisons CUDA for the whole process (driver/probe.ts markCudaPoisoned). */
function noteSticky(error: unknown): void {
  if (isSticky(error)) markCudaPoisoned(poisonedReason(error));
}
