// Picks the engine for a config and says how the ring must be cut for it (shards, consumers) before the
// ring exists. `auto` takes cuda when a GPU and the built kernels are there, then a hardware WebGPU
// adapter (with a WGSL twin of the handler), else cpu.
import { InvalidArgumentError } from '../core/errors.js';
import type { QueueConfig } from '../core/options.js';
import { CpuEngine } from './cpu/cpu-engine.js';
import { CudaEngine } from './cuda/cuda-engine.js';
import { cudaReady, planCudaRing } from './cuda/plan.js';
import type { Engine, EngineContext } from './engine.js';
import { resolveRedisOptions } from './redis/options.js';
import { RedisEngine } from './redis/redis-engine.js';
import { planWebGpuRing, probeWebGpuForAuto, webGpuReady } from './webgpu/plan.js';
import { WebGpuEngine } from './webgpu/webgpu-engine.js';

export interface EnginePlan {
  name: string;
  shards: number;
  consumers: number;
  create(ctx: EngineContext): Engine;
}

/** The fewest slots a cpu shard gets (one key's messages all queue in one shard). */
const MIN_CPU_SHARD_SLOTS = 16;

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** The engine for a config: an explicit backend, or for `auto` cuda, then a hardware WebGPU adapter, then cpu. */
/** Handlers given as source for one engine's compiler: the engine they need. */
const SOURCE_HANDLERS: Record<string, { engine: string; what: string }> = {
  wgsl: { engine: 'webgpu', what: 'WGSL source' },
  cuda: { engine: 'cuda', what: 'CUDA source' },
};

/** The innermost handler of an option (wrappers name theirs in `inner`). */
function leafHandlerName(option: QueueConfig['handler']): string {
  let at: QueueConfig['handler'] = option;
  while (typeof at !== 'string' && at.inner !== undefined) at = at.inner as QueueConfig['handler'];
  return typeof at === 'string' ? at : at.name;
}

/** The engine for a config: an explicit backend, or for `auto` cuda, then a hardware WebGPU adapter, then cpu. */
export async function planEngine(config: QueueConfig): Promise<EnginePlan> {
  const leaf = leafHandlerName(config.handler);
  const needs = SOURCE_HANDLERS[leaf];
  if (needs && config.fallback === 'cpu') {
    throw new InvalidArgumentError(
      `fallback 'cpu' re-runs messages with the handler's JS implementation; handler ${leaf} (${needs.what}) has none: use fallback 'none'`,
    );
  }
  const plan = await choosePlan(config);
  if (needs && plan.name !== needs.engine) {
    throw new InvalidArgumentError(
      `handler ${leaf} (${needs.what}) runs on the ${needs.engine} engine only; this queue's engine is ${plan.name}: use backend '${needs.engine}'`,
    );
  }
  return plan;
}

async function choosePlan(config: QueueConfig): Promise<EnginePlan> {
  if (config.backend === 'redis') {
    // One shard per partition stream, all consumed by one bridge on the owner thread.
    const redis = resolveRedisOptions(config.redis);
    const shards = Math.min(redis.partitions, config.capacity);
    return { name: 'redis', shards, consumers: 1, create: (ctx) => new RedisEngine(ctx, redis) };
  }
  if (config.backend === 'cuda' || (config.backend === 'auto' && cudaReady())) {
    // One shard per block of the persistent kernel; planCudaRing says exactly why when there is no GPU.
    const { shards, consumers } = planCudaRing(config.capacity);
    return { name: 'cuda', shards, consumers, create: (ctx) => new CudaEngine(ctx) };
  }
  if (config.backend === 'webgpu' || (config.backend === 'auto' && (await probeWebGpuForAuto()).usable && webGpuReady(config.handler))) {
    // The adapter's kind decides the consumers; with no adapter the engine's start says why.
    const probe = await probeWebGpuForAuto();
    const { shards, consumers } = planWebGpuRing(config, !probe.usable || probe.adapter.software);
    return { name: 'webgpu', shards, consumers, create: (ctx) => new WebGpuEngine(ctx) };
  }
  // One shard per worker, but never shards so small that one key's backlog cannot queue: a tiny queue
  // gets fewer shards (and so fewer workers) rather than one-slot shards that are always FULL.
  const shards = Math.max(1, Math.min(nextPowerOfTwo(config.workers), config.capacity / MIN_CPU_SHARD_SLOTS));
  const workers = Math.min(config.workers, shards);
  return { name: 'cpu', shards, consumers: workers, create: (ctx) => new CpuEngine(ctx) };
}

/** The engine that takes over a failed GPU engine's slots in place (`fallback: 'cpu'`). */
export function createFallbackEngine(ctx: EngineContext): Engine {
  return new CpuEngine(ctx, ctx.config.workers);
}
