// Checked CUDA driver calls: every CUresult that is not CUDA_SUCCESS becomes a CudaError carrying the
// driver's own name for it (cuGetErrorName), and the calls the engine makes get names that say what they
// do. One object per engine; the library under it is loaded once per process (library.ts).
import { CudaError } from '../../../core/errors.js';
import type { CudaLibrary } from './library.js';
import { type CudaFunctions, CudaResult, type CudaSymbol, type DeviceAttribute, FunctionAttribute, type NativePointer } from './symbols.js';

const CU_MEMHOSTREGISTER_PORTABLE = 1;
const CU_MEMHOSTREGISTER_DEVICEMAP = 2;
/** CU_STREAM_NON_BLOCKING: the persistent kernel's stream never waits on the legacy default stream. */
const CU_STREAM_NON_BLOCKING = 1;
/**
 * CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls (a synchronous copy, a malloc)
 * break the capture; other threads' CUDA work goes on untouched.
 */
const CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

/** Page-locked host memory from cuMemAllocHost: the driver's pointer, and the same bytes seen from JS. */
export interface PinnedHostBuffer {
  pointer: NativePointer;
  bytes: Uint8Array;
}

/** The driver's name for a CUresult (`CUDA_ERROR_…`), or `CUresult n` when it has none. */
export function cudaErrorName(fn: CudaFunctions, result: number): string {
  const out: unknown[] = [null];
  return fn.cuGetErrorName(result, out) === CudaResult.SUCCESS && typeof out[0] === 'string' ? out[0] : `CUresult ${result}`;
}

export function cudaErrorFor(fn: CudaFunctions, call: string, result: number): CudaError {
  const name = cudaErrorName(fn, result);
  const text: unknown[] = [null];
  const detail = fn.cuGetErrorString(result, text) === CudaResult.SUCCESS && typeof text[0] === 'string' ? `: ${text[0]}` : '';
  return new CudaError(`${call} failed with ${name} (${result})${detail}`, name);
}

export class CudaDriver {
  readonly lib: CudaLibrary;

  constructor(lib: CudaLibrary) {
    this.lib = lib;
  }

  /** Calls a driver function and throws CudaError unless it returns CUDA_SUCCESS. */
  call<K extends CudaSymbol>(name: K, ...args: Parameters<CudaFunctions[K]>): void {
    const result = (this.lib.fn[name] as (...a: unknown[]) => number)(...args);
    if (result !== CudaResult.SUCCESS) throw cudaErrorFor(this.lib.fn, name, result);
  }

  /** Calls a driver function whose one `_Out_` parameter comes first and returns what it wrote. */
  private out<K extends CudaSymbol>(name: K, ...rest: unknown[]): unknown {
    const box: unknown[] = [null];
    this.call(name, ...([box, ...rest] as unknown as Parameters<CudaFunctions[K]>));
    return box[0];
  }

  init(): void {
    this.call('cuInit', 0);
  }

  driverVersion(): number {
    return this.out('cuDriverGetVersion') as number;
  }

  deviceCount(): number {
    return this.out('cuDeviceGetCount') as number;
  }

  device(ordinal: number): number {
    return this.out('cuDeviceGet', ordinal) as number;
  }

  deviceName(device: number): string {
    const buffer = Buffer.alloc(256);
    this.call('cuDeviceGetName', buffer, buffer.length, device);
    return buffer.toString('latin1', 0, buffer.indexOf(0));
  }

  attribute(device: number, attribute: (typeof DeviceAttribute)[keyof typeof DeviceAttribute]): number {
    return this.out('cuDeviceGetAttribute', attribute, device) as number;
  }

  totalMemoryBytes(device: number): number {
    return Number(this.out('cuDeviceTotalMem_v2', device));
  }

  /** Retains the device's primary context (shared with any other CUDA user in the process) and makes it current. */
  retainPrimaryContext(device: number): NativePointer {
    const context = this.out('cuDevicePrimaryCtxRetain', device);
    this.call('cuCtxSetCurrent', context);
    return context;
  }

  releasePrimaryContext(device: number): void {
    this.call('cuDevicePrimaryCtxRelease_v2', device);
  }

  /**
   * Destroys every allocation, module and stream of the device's primary context and resets it (for every
   * user in the process): the only way out of a sticky fault (a trapped or faulted kernel), after which
   * the next retain gets a fresh context. Does not release this caller's retain.
   */
  resetPrimaryContext(device: number): void {
    this.call('cuDevicePrimaryCtxReset_v2', device);
  }

  /** Device memory (cuMemAlloc); its device address. */
  allocDevice(bytes: number): bigint {
    return BigInt(this.out('cuMemAlloc_v2', bytes) as number | bigint);
  }

  freeDevice(address: bigint): void {
    this.call('cuMemFree_v2', address);
  }

  /** Fills device memory with a byte, in stream order (before a kernel launched after it on that stream). */
  fillDeviceAsync(address: bigint, value: number, bytes: number, stream: NativePointer): void {
    this.call('cuMemsetD8Async', address, value, bytes, stream);
  }

  /** Copies device memory into a host buffer (synchronous). */
  copyToHost(target: Uint8Array, address: bigint): void {
    this.call('cuMemcpyDtoH_v2', target, address, target.byteLength);
  }

  /** Page-locked host memory (cuMemAllocHost): async copies from and to it overlap with the host's work. */
  allocPinnedHost(bytes: number): PinnedHostBuffer {
    const pointer = this.out('cuMemAllocHost_v2', bytes);
    return { pointer, bytes: new Uint8Array(this.lib.koffi.view(pointer, bytes)) };
  }

  /** Frees cuMemAllocHost memory; its `bytes` view must not be touched afterwards. */
  freePinnedHost(buffer: PinnedHostBuffer): void {
    this.call('cuMemFreeHost', buffer.pointer);
  }

  /** Copies the first `bytes` of pinned host memory to the device, in stream order. */
  copyToDeviceAsync(address: bigint, host: PinnedHostBuffer, bytes: number, stream: NativePointer): void {
    this.call('cuMemcpyHtoDAsync_v2', address, host.pointer, bytes, stream);
  }

  /** Copies device memory into the first `bytes` of pinned host memory, in stream order. */
  copyToHostAsync(host: PinnedHostBuffer, address: bigint, bytes: number, stream: NativePointer): void {
    this.call('cuMemcpyDtoHAsync_v2', host.pointer, address, bytes, stream);
  }

  setCurrent(context: NativePointer): void {
    this.call('cuCtxSetCurrent', context);
  }

  /** Leaves this thread with no current context (before resetting the one that was current). */
  clearCurrent(): void {
    this.call('cuCtxSetCurrent', null);
  }

  /** Loads PTX text (the driver JIT-compiles it for this device; the result is cached on disk by the driver). */
  loadModule(ptx: string): NativePointer {
    return this.out('cuModuleLoadData', ptx.endsWith('\0') ? ptx : `${ptx}\0`);
  }

  unloadModule(module: NativePointer): void {
    this.call('cuModuleUnload', module);
  }

  kernel(module: NativePointer, name: string): NativePointer {
    return this.out('cuModuleGetFunction', module, name);
  }

  /** Static shared memory of a kernel, bytes. */
  staticSharedBytes(fn: NativePointer): number {
    return this.out('cuFuncGetAttribute', FunctionAttribute.SHARED_SIZE_BYTES, fn) as number;
  }

  /** Lets a kernel launch with more than the default 48 KiB of dynamic shared memory. */
  allowDynamicShared(fn: NativePointer, bytes: number): void {
    this.call('cuFuncSetAttribute', fn, FunctionAttribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
  }

  /** Blocks of this kernel one SM holds at once, for a block size and dynamic shared memory. */
  residentBlocksPerSm(fn: NativePointer, blockThreads: number, sharedBytes: number): number {
    return this.out('cuOccupancyMaxActiveBlocksPerMultiprocessor', fn, blockThreads, sharedBytes) as number;
  }

  /**
   * Pins a SharedArrayBuffer and maps it into the device (cuMemHostRegister DEVICEMAP); returns the
   * device address of its first byte. The buffer must stay registered until the kernel that uses it exits.
   */
  registerHost(sab: SharedArrayBuffer): bigint {
    const view = new Uint8Array(sab);
    this.call('cuMemHostRegister_v2', view, sab.byteLength, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
    try {
      return BigInt(this.out('cuMemHostGetDevicePointer_v2', view, 0) as number | bigint);
    } catch (error) {
      this.call('cuMemHostUnregister', view);
      throw error;
    }
  }

  unregisterHost(sab: SharedArrayBuffer): void {
    this.call('cuMemHostUnregister', new Uint8Array(sab));
  }

  createStream(): NativePointer {
    return this.out('cuStreamCreate', CU_STREAM_NON_BLOCKING);
  }

  destroyStream(stream: NativePointer): void {
    this.call('cuStreamDestroy_v2', stream);
  }

  /** Blocks this thread (and so the event loop) until all work on the stream finished. */
  synchronizeStream(stream: NativePointer): void {
    this.call('cuStreamSynchronize', stream);
  }

  /**
   * Records, instead of running, what is issued on `stream` until endCapture (copies, launches), for
   * replay as one graph. Thread-local mode: only this thread's unsafe calls break the capture.
   */
  beginCapture(stream: NativePointer): void {
    this.call('cuStreamBeginCapture_v2', stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  }

  /** Ends a capture; the graph of what was recorded (destroy it with destroyGraph). */
  endCapture(stream: NativePointer): NativePointer {
    const graph: unknown[] = [null]; // the one _Out_ parameter that does not come first
    this.call('cuStreamEndCapture', stream, graph);
    return graph[0];
  }

  /** An executable graph (cuGraphInstantiateWithFlags, no flags), replayed with launchGraph. */
  instantiateGraph(graph: NativePointer): NativePointer {
    return this.out('cuGraphInstantiateWithFlags', graph, 0);
  }

  /** Replays an executable graph on a stream: one call for all of its copies and launches. */
  launchGraph(exec: NativePointer, stream: NativePointer): void {
    this.call('cuGraphLaunch', exec, stream);
  }

  destroyGraphExec(exec: NativePointer): void {
    this.call('cuGraphExecDestroy', exec);
  }

  destroyGraph(graph: NativePointer): void {
    this.call('cuGraphDestroy', graph);
  }

  /** 'done' when all work on the stream finished, 'running' while it runs; throws CudaError if it failed. */
  streamState(stream: NativePointer): 'done' | 'running' {
    const result = this.lib.fn.cuStreamQuery(stream);
    if (result === CudaResult.SUCCESS) return 'done';
    if (result === CudaResult.NOT_READY) return 'running';
    throw cudaErrorFor(this.lib.fn, 'cuStreamQuery', result);
  }

  /**
   * Launches `fn` with a 64-bit first argument and a by-value struct second (the kernel's signature:
   * pointer, params), copying both into native memory that lives for the call (the driver copies the
   * arguments at launch).
   */
  launch(
    fn: NativePointer,
    grid: number,
    blockThreads: number,
    sharedBytes: number,
    stream: NativePointer,
    pointerArg: bigint,
    structArg: Uint8Array,
  ): void {
    const { koffi } = this.lib;
    const valueBytes = 8 + structArg.byteLength;
    const values = koffi.alloc('uint8_t', valueBytes);
    const pointers = koffi.alloc('uint64_t', 2);
    try {
      const bytes = new Uint8Array(koffi.view(values, valueBytes));
      new DataView(bytes.buffer).setBigUint64(0, pointerArg, true);
      bytes.set(structArg, 8);
      const base = koffi.address(values);
      const slots = new BigUint64Array(koffi.view(pointers, 16));
      slots[0] = base;
      slots[1] = base + 8n;
      this.call('cuLaunchKernel', fn, grid, 1, 1, blockThreads, 1, 1, sharedBytes, stream, koffi.address(pointers), null);
    } finally {
      koffi.free(values);
      koffi.free(pointers);
    }
  }
}
