// Partitioning building blocks (from the worker-runtime seed): map a message key to one of n partitions.
// The queue uses them to send every message of one key to one consumer shard, which is what keeps per-key
// FIFO with many consumers. Specs are plain data so any producer thread can rebuild the same partitioner.
import { describeValue, InvalidArgumentError } from './errors.js';

export type PartitionerSpec =
  | { kind: 'hash' }
  | { kind: 'round-robin' }
  | { kind: 'consistent-hash'; virtualNodes?: number }
  | { kind: 'range'; bounds: number[] };

export interface Partitioner {
  readonly partitions: number;
  /** The partition of a message; `key` is the user's key, `keyHash` its `hashKey`. */
  partition(key: string | number | undefined, keyHash: number): number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** 32-bit FNV-1a of a key (numbers hash their decimal text), the value stored in a slot's KEY_HASH. */
export function hashKey(key: string | number): number {
  const text = typeof key === 'number' ? String(key) : key;
  // ASCII keys (the usual case) hash their char codes, which are their UTF-8 bytes: no encoder allocation.
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return hashUtf8(text);
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h >>> 0;
}

function hashUtf8(text: string): number {
  const bytes = encoder.encode(text);
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
  return h >>> 0;
}

/** murmur3's 32-bit finalizer: spreads hashes whose low bits are alike before a modulo. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Key hash modulo n. Cheapest; moving to another n remaps almost every key. */
export function hashPartitioner(partitions: number): Partitioner {
  return { partitions, partition: (_key, keyHash) => mix32(keyHash) % partitions };
}

/** Ignores the key and cycles through the partitions (for unkeyed work; it keeps no key order). */
export function roundRobinPartitioner(partitions: number): Partitioner {
  let next = 0;
  return {
    partitions,
    partition: () => {
      const p = next;
      next = next + 1 === partitions ? 0 : next + 1;
      return p;
    },
  };
}

/**
 * A hash ring with `virtualNodes` points per partition: changing the partition count moves only about
 * 1/n of the keys, which is what a deployment that adds consumers wants.
 */
export function consistentHashPartitioner(partitions: number, virtualNodes = 64): Partitioner {
  const points: { at: number; partition: number }[] = [];
  for (let p = 0; p < partitions; p++) {
    for (let v = 0; v < virtualNodes; v++) points.push({ at: mix32(hashKey(`${p}#${v}`)), partition: p });
  }
  points.sort((a, b) => a.at - b.at);
  const at = Uint32Array.from(points, (x) => x.at);
  const owner = Uint16Array.from(points, (x) => x.partition);
  return {
    partitions,
    partition: (_key, keyHash) => {
      const h = mix32(keyHash);
      // first point at or after h, wrapping to the first point
      let lo = 0;
      let hi = at.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((at[mid] as number) < h) lo = mid + 1;
        else hi = mid;
      }
      return owner[lo === at.length ? 0 : lo] as number;
    },
  };
}

/**
 * Numeric keys by ranges: `bounds` ascending, n − 1 of them for n partitions; key < bounds[0] → 0,
 * bounds[i − 1] ≤ key < bounds[i] → i. String keys fall back to their hash.
 */
export function rangePartitioner(partitions: number, bounds: number[]): Partitioner {
  return {
    partitions,
    partition: (key, keyHash) => {
      if (typeof key !== 'number') return mix32(keyHash) % partitions;
      let p = 0;
      while (p < bounds.length && key >= (bounds[p] as number)) p++;
      return p;
    },
  };
}

export function validatePartitionerSpec(spec: unknown, partitions: number): PartitionerSpec {
  const kinds = ['hash', 'round-robin', 'consistent-hash', 'range'];
  const kind = (spec as { kind?: unknown } | null)?.kind;
  if (typeof spec !== 'object' || spec === null || !kinds.includes(kind as string)) {
    throw new InvalidArgumentError(`partitioner must be { kind } with kind one of ${kinds.join(', ')}; got ${describeValue(kind ?? spec)}`);
  }
  if (kind === 'consistent-hash') {
    const v = (spec as { virtualNodes?: unknown }).virtualNodes;
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4096)) {
      throw new InvalidArgumentError(`partitioner.virtualNodes must be an integer from 1 to 4096; got ${describeValue(v)}`);
    }
  }
  if (kind === 'range') {
    const b = (spec as { bounds?: unknown }).bounds;
    const ok =
      Array.isArray(b) &&
      b.length === partitions - 1 &&
      b.every((x, i) => typeof x === 'number' && Number.isFinite(x) && (i === 0 || x > (b[i - 1] as number)));
    if (!ok) {
      throw new InvalidArgumentError(
        `partitioner.bounds must be ${partitions - 1} ascending finite numbers (one fewer than the ${partitions} partitions); got ${describeValue(b)}`,
      );
    }
  }
  return spec as PartitionerSpec;
}

export function createPartitioner(spec: PartitionerSpec, partitions: number): Partitioner {
  switch (spec.kind) {
    case 'hash':
      return hashPartitioner(partitions);
    case 'round-robin':
      return roundRobinPartitioner(partitions);
    case 'consistent-hash':
      return consistentHashPartitioner(partitions, spec.virtualNodes);
    case 'range':
      return rangePartitioner(partitions, spec.bounds);
  }
}
