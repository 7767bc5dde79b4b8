// Picks the engine for a config and says how the ring must be cut for it (shards, consumers) before the
// ring exists. `auto` takes the best engine usable here; engines that are not built yet are never chosen.
import type { QueueConfig } from '../core/options.js';
import { CpuEngine } from './cpu/cpu-engine.js';
import type { Engine, EngineContext } from './engine.js';

export interface EnginePlan {
  name: string;
  shards: number;
  consumers: number;
  create(ctx: EngineContext): Engine;
}

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export function planEngine(config: QueueConfig): EnginePlan {
  // 'auto' and 'cpu' both land here until a GPU engine exists in this build.
  const workers = Math.min(config.workers, config.capacity);
  const shards = Math.min(nextPowerOfTwo(workers), config.capacity);
  return { name: 'cpu', shards, consumers: workers, create: (ctx) => new CpuEngine(ctx) };
}
