// How to cut the ring for the webgpu engine, before the ring exists, and whether `auto` should pick it.
// Each consumer is a batch loop with a device of its own, over the shards s with s % consumers === its
// index; shards also spread the producers' claims over several HEAD words. Each shard keeps at least
// MIN_SHARD_SLOTS slots: a key's messages all go to one shard, so tiny shards would make a burst on one
// key FULL in a nearly empty queue.
//
// How many consumers is measured (bench/results/2026-11-24-webgpu-consumers-h100.md, H100, 16 cores):
// one consumer thread is bound near 5 M msg/s of 256 B by its own copies into and out of the stages, and
// more consumers scale only while each has room for big batches. At the ring, with 8 producer threads,
// 4 consumers reached 9.6, 16.7 and 20.1 M msg/s with 4 k, 16 k and 32 k slots each, 8 consumers 5.2 M
// with 2 k each and 23.6 M with 16 k. Through the public API, where the owner thread also checks every
// result, 4 consumers beat 8 in a same-machine A/B (4 KB: 8.5 and 5.7 GB/s against 3.8 and 5.0): 8
// producers, 8 consumers and the owner oversubscribe 16 cores. So: a consumer per 4 cores, at most
// MAX_CONSUMERS, each with at least MIN_CONSUMER_SLOTS of the ring, never more than `workers`; one on a
// software adapter, whose shaders run on the very cores the copies need. GPUQUEUE_WEBGPU_CONSUMERS
// overrides (measurements, tests).
import { availableParallelism } from 'node:os';
import { EngineUnavailableError } from '../../core/errors.js';
import type { QueueConfig } from '../../core/options.js';
import type { HandlerSpec } from '../../handlers/handler.js';
import { resolveHandler } from '../../handlers/registry.js';
import type { WebGpuProbe } from './dawn.js';
import { probeWebGpu } from './dawn.js';
import { USER_WGSL_HANDLER, unsupportedHandlerReason } from './kernel-source.js';

export interface WebGpuRingPlan {
  shards: number;
  consumers: number;
}

/** Slots per shard at least (the cuda engine's plan uses the same floor). */
const MIN_SHARD_SLOTS = 64;
/** Ring slots per consumer at least: room for its stages to hold batches of a thousand and more. */
const MIN_CONSUMER_SLOTS = 4096;
const MAX_CONSUMERS = 8;
const CORES_PER_CONSUMER = 4;
export const CONSUMERS_ENV = 'GPUQUEUE_WEBGPU_CONSUMERS';

const floorPowerOfTwo = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * Consumers as above (a power of two, so shards split evenly), and as many shards as producer threads are
 * likely (the cpu engine's worker count), at least one per consumer, each ≥ MIN_SHARD_SLOTS deep.
 * `software`: the adapter is a software rasterizer (or unknown).
 */
export function planWebGpuRing(config: QueueConfig, software: boolean, cores = availableParallelism()): WebGpuRingPlan {
  const maxShards = floorPowerOfTwo(config.capacity / MIN_SHARD_SLOTS);
  const consumers = Math.min(consumersFor(config, software, cores), maxShards);
  const shards = Math.max(consumers, floorPowerOfTwo(Math.min(config.workers, config.capacity / MIN_SHARD_SLOTS)));
  return { shards, consumers };
}

function consumersFor(config: QueueConfig, software: boolean, cores: number): number {
  const forced = process.env[CONSUMERS_ENV];
  if (forced !== undefined) {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 1 || n > 64 || (n & (n - 1)) !== 0)
      throw new EngineUnavailableError(`${CONSUMERS_ENV} must be a power of two from 1 to 64; got ${forced}`);
    return n;
  }
  if (software) return 1;
  return floorPowerOfTwo(
    Math.max(
      1,
      Math.min(MAX_CONSUMERS, Math.floor(cores / CORES_PER_CONSUMER), Math.floor(config.capacity / MIN_CONSUMER_SLOTS), config.workers),
    ),
  );
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
