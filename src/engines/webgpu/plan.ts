// How to cut the ring for the webgpu engine, before the ring exists, and whether `auto` should pick it.
// One consumer (the batch loop) takes every shard; shards only spread the producers' claims over several
// HEAD words. Each shard keeps at least MIN_SHARD_SLOTS slots: a key's messages all go to one shard, so
// tiny shards would make a burst on one key FULL in a nearly empty queue.
import type { QueueConfig } from '../../core/options.js';
import type { HandlerSpec } from '../../handlers/handler.js';
import { resolveHandler } from '../../handlers/registry.js';
import type { WebGpuProbe } from './dawn.js';
import { probeWebGpu } from './dawn.js';
import { unsupportedHandlerReason } from './kernel-source.js';

export interface WebGpuRingPlan {
  shards: number;
  consumers: 1;
}

/** Slots per shard at least (the cuda engine's plan uses the same floor). */
const MIN_SHARD_SLOTS = 64;

const floorPowerOfTwo = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/** As many shards as producer threads are likely (the cpu engine's worker count), each ≥ MIN_SHARD_SLOTS deep. */
export function planWebGpuRing(config: QueueConfig): WebGpuRingPlan {
  const shards = floorPowerOfTwo(Math.min(config.workers, config.capacity / MIN_SHARD_SLOTS));
  return { shards, consumers: 1 };
}

let settled: WebGpuProbe | undefined;

/** Runs the (cached) adapter probe, so that `webGpuReady` can answer synchronously afterwards. */
export async function probeWebGpuForAuto(): Promise<WebGpuProbe> {
  settled = await probeWebGpu();
  return settled;
}

/**
 * Whether `auto` should take webgpu: a probe ran and found a hardware adapter (a software one, such as
 * lavapipe, runs WGSL on the very CPU the cpu engine would use, only slower), and the handler has a WGSL
 * twin. False until `probeWebGpuForAuto` has resolved once.
 */
export function webGpuReady(handler: QueueConfig['handler']): boolean {
  if (!settled?.usable || settled.adapter.software) return false;
  let spec: HandlerSpec;
  try {
    spec = resolveHandler(handler);
  } catch {
    return false;
  }
  return unsupportedHandlerReason(spec) === undefined;
}
