// How to cut the ring for the webgpu engine, before the ring exists, and whether `auto` should pick it.
// One consumer (the batch loop) takes every shard; shards only spread the producers' claims over several
// HEAD words. Each shard keeps at least MIN_SHARD_SLOTS slots: a key's messages all go to one shard, so
// tiny shards would make a burst on one key FULL in a nearly empty queue.
import type { QueueConfig } from '../../core/options.js';
import type { HandlerSpec } from '../../handlers/handler.js';
import { resolveHandler } from '../../handlers/registry.js';
import type { WebGpuProbe } from './dawn.js';
import { probeWebGpu } from './dawn.js';
import { USER_WGSL_HANDLER, unsupportedHandlerReason } from './kernel-source.js';

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
 * Whether `auto` should take webgpu: a probe ran and found an adapter, and the handler has a WGSL twin.
 * A software adapter (lavapipe) runs WGSL on the very CPU the cpu engine would use, only slower, so it
 * counts only for a handler that exists in WGSL alone (a user's `wgsl` source). False until
 * `probeWebGpuForAuto` has resolved once.
 */
export function webGpuReady(handler: QueueConfig['handler']): boolean {
  if (!settled?.usable) return false;
  let spec: HandlerSpec;
  try {
    spec = resolveHandler(handler);
  } catch {
    return false;
  }
  if (unsupportedHandlerReason(spec) !== undefined) return false;
  return !settled.adapter.software || wgslOnly(spec);
}

/** A user's WGSL handler, possibly inside wrappers: it has no JS implementation. */
function wgslOnly(spec: HandlerSpec): boolean {
  let at: HandlerSpec | undefined = spec;
  while (at && at.name !== USER_WGSL_HANDLER) at = at.params.inner as HandlerSpec | undefined;
  return at !== undefined;
}
