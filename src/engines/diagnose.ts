// What this machine offers each engine, for `gpuqueue doctor`: the CUDA device (or exactly why there is
// none), the WebGPU adapter (or what Dawn saw), what `auto` would pick, and a config to start from.
import { availableParallelism, cpus, totalmem } from 'node:os';
import { resolveOptions } from '../core/options.js';
import { nvrtcStatus } from './cuda/driver/nvrtc.js';
import type { CudaDeviceInfo } from './cuda/driver/probe.js';
import { probeCuda } from './cuda/driver/probe.js';
import { cudaReady } from './cuda/plan.js';
import { listWebGpuAdapters, type WebGpuAdapterDescription, type WebGpuAdapterListing } from './webgpu/dawn.js';
import { planWebGpuRing, probeWebGpuForAuto } from './webgpu/plan.js';

export interface EngineDiagnosis {
  node: string;
  platform: string;
  cpu: { model: string; cores: number };
  memoryBytes: number;
  cuda: { usable: true; device: CudaDeviceInfo; kernelsBuilt: boolean } | { usable: false; reason: string };
  /** NVRTC (the runtime compiler for `cuda` handlers given as source): its version, or why it can't load. */
  nvrtc: { usable: true; version: string; path: string } | { usable: false; reason: string };
  /** The adapter the webgpu engine takes (the high-performance one), or why there is none. */
  webgpu: { usable: true; adapter: WebGpuAdapterDescription } | { usable: false; reason: string };
  /** Every adapter Dawn hands out here, with the limits that bound a batch. */
  webgpuAdapters: WebGpuAdapterListing[];
  /** The engine `backend: 'auto'` takes here for the built-in handlers. */
  auto: 'cuda' | 'webgpu' | 'cpu';
  recommended: { backend: string; options: Record<string, unknown>; why: string };
}

export async function diagnoseEngines(): Promise<EngineDiagnosis> {
  const cores = availableParallelism();
  const cudaProbe = probeCuda();
  const cuda: EngineDiagnosis['cuda'] = cudaProbe.usable
    ? { usable: true, device: cudaProbe.device, kernelsBuilt: cudaReady() }
    : { usable: false, reason: cudaProbe.reason };
  const webgpu = await probeWebGpuForAuto();
  const auto = cuda.usable && cuda.kernelsBuilt ? 'cuda' : webgpu.usable && !webgpu.adapter.software ? 'webgpu' : 'cpu';
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: { model: cpus()[0]?.model ?? 'unknown', cores },
    memoryBytes: totalmem(),
    cuda,
    nvrtc: nvrtcStatus(),
    webgpu,
    webgpuAdapters: await listWebGpuAdapters(),
    auto,
    recommended: recommend(auto, cores, cuda),
  };
}

function recommend(auto: EngineDiagnosis['auto'], cores: number, cuda: EngineDiagnosis['cuda']): EngineDiagnosis['recommended'] {
  if (auto === 'cuda') {
    return {
      backend: 'cuda',
      options: { backend: 'auto', capacity: 4096, slotBytes: 2048, fallback: 'cpu' },
      why: 'a persistent kernel on this GPU; produce from several worker threads (attachProducer) to feed it, and let cpu workers take over if the GPU faults',
    };
  }
  if (cuda.usable && !cuda.kernelsBuilt) {
    return {
      backend: 'cpu',
      options: { backend: 'auto', capacity: 4096, workers: Math.max(1, cores - 1) },
      why: 'a usable GPU, but no built kernels: run `npm run build:kernels` (needs nvcc) and auto will take cuda',
    };
  }
  if (auto === 'webgpu') {
    // Room for each consumer the plan runs on this many cores (a ring that does not bound them) to hold big batches.
    const { consumers } = planWebGpuRing(resolveOptions({ capacity: 1 << 20 }), false, cores);
    return {
      backend: 'webgpu',
      options: { backend: 'auto', capacity: Math.max(8192, consumers * 8192), slotBytes: 2048 },
      why: `batched WGSL dispatch: best with enqueueBatch and large batches (a lone message costs about one submit + map); ${consumers} consumer thread${consumers === 1 ? '' : 's'} here, each with 8192 slots`,
    };
  }
  return {
    backend: 'cpu',
    options: { backend: 'auto', capacity: 4096, workers: Math.max(1, cores - 1) },
    why: `worker threads; ${cores} core${cores === 1 ? '' : 's'} here, one left for the thread that produces and harvests`,
  };
}
