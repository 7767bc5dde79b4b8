// The CUDA driver binding as a package subpath (`gpuqueue/cuda-driver`), for the repository's bench and
// probes that drive the GPU by hand beside the engine (launch-per-batch baselines). Not the public API:
// the names here may change with the engine. Importing it loads nothing; the library loads on first use.
export { CudaDriver, cudaErrorName, type PinnedHostBuffer } from './driver.js';
export { CudaLoadError, loadCudaLibrary } from './library.js';
export { type CudaDeviceInfo, type CudaProbe, probeCuda } from './probe.js';
export type { NativePointer } from './symbols.js';
