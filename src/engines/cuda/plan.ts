// How to cut the ring for the cuda engine, before the ring exists: one shard per block, as many blocks
// as the GPU runs at once up to a useful count, each shard deep enough to give a block's threads a run
// of consecutive slots to take in parallel.
import { existsSync } from 'node:fs';
import { EngineUnavailableError } from '../../core/errors.js';
import { probeCuda } from './driver/probe.js';

/**
 * Slots per shard we aim for at least (and so threads per block, up to MAX_BLOCK_THREADS): few, deep
 * shards. Each block is a PCIe poller and each shard a line the owner thread scans per harvest pass, so
 * fewer shards cut the round trip (measured on the H100: 64 shards of 64 slots cost ~4.5 µs more per
 * round trip than one shard), while one block still takes runs of up to 256 messages at once.
 */
const MIN_SHARD_SLOTS = 256;
/** Threads per block at most (the kernel's __launch_bounds__). */
export const MAX_BLOCK_THREADS = 256;

export interface CudaRingPlan {
  shards: number;
  /** Blocks of the persistent kernel (== shards here; shard s belongs to block s % consumers). */
  consumers: number;
}

const floorPowerOfTwo = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/** The ring cut for a capacity on this machine's GPU; throws EngineUnavailableError (with the probe's reason) without one. */
export function planCudaRing(capacity: number, ordinal = 0): CudaRingPlan {
  const probe = probeCuda(ordinal);
  if (!probe.usable) throw new EngineUnavailableError(`the cuda engine cannot run here: ${probe.reason}`);
  const shards = floorPowerOfTwo(Math.min(probe.device.smCount, capacity / MIN_SHARD_SLOTS));
  return { shards, consumers: shards };
}

/** Threads per block for a shard depth: a whole number of warps, no more than the shard holds. */
export const blockThreadsFor = (shardCapacity: number): number =>
  Math.min(MAX_BLOCK_THREADS, Math.max(32, Math.ceil(shardCapacity / 32) * 32));

/** The kernels the build wrote (npm run build:kernels); without them `auto` does not pick cuda. */
const KERNEL_MANIFEST = new URL('../../../kernels/manifest.json', import.meta.url);

/** Whether `auto` should pick cuda here: a usable GPU and built kernels. Cached by the probe. */
export const cudaReady = (ordinal = 0): boolean => probeCuda(ordinal).usable && existsSync(KERNEL_MANIFEST);
