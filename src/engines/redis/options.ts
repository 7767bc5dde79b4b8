// The `redis` option of a queue (and of a worker): the interface with each default documented, the
// defaults in one const, and the validation that names the bad value. Plain data only (imports nothing
// but core/errors), so it can move into core/ next to options.ts unchanged.
import { describeValue, InvalidArgumentError } from '../../core/errors.js';

export interface RedisOptions {
  /** Where Redis is: `redis://[:password@]host:port[/db]` or `rediss://…`. **Default:** `'redis://127.0.0.1:6379'` */
  url?: string;
  /** Redis Cluster seed nodes (`host:port` or URLs); when given, `url` is ignored and keys are hash-tagged per partition. **Default:** none */
  clusterNodes?: string[];
  /** The queue's name in Redis: producers and workers of one name share its streams. **Default:** `'gpuqueue'` */
  name?: string;
  /** Partition streams, a power of two (at most `capacity`); shard n of the ring ships to stream n, so every key stays on one stream, in order. **Default:** `4` */
  partitions?: number;
  /** Messages packed into one stream entry at most (1 = one entry per message). **Default:** `256` */
  batchMessages?: number;
  /** Entries a partition stream may hold before producers stop shipping to it (backpressure). **Default:** `1024` */
  maxStreamEntries?: number;
  /** How long a worker's lease on a partition lasts without renewal: a crashed worker's messages are redelivered after it. **Default:** `5000` */
  leaseMs?: number;
  /** Deliveries of one entry (a worker took it and never acknowledged it) before it is dead-lettered as CONSUMER_DIED. **Default:** `5` */
  maxDeliveries?: number;
  /** How long the mark that a batch's result was published is kept (must outlast any redelivery). **Default:** `600000` */
  doneTtlMs?: number;
  /** Entries kept in each partition's dead-letter stream (older ones are trimmed). **Default:** `10000` */
  deadLetterMaxEntries?: number;
  /** How long `open()` waits to reach Redis before failing with EngineUnavailableError. **Default:** `5000` */
  connectTimeoutMs?: number;
}

export const DEFAULT_REDIS_OPTIONS = {
  url: 'redis://127.0.0.1:6379',
  name: 'gpuqueue',
  partitions: 4,
  batchMessages: 256,
  maxStreamEntries: 1024,
  leaseMs: 5000,
  maxDeliveries: 5,
  doneTtlMs: 600_000,
  deadLetterMaxEntries: 10_000,
  connectTimeoutMs: 5000,
} as const satisfies Partial<Record<keyof RedisOptions, unknown>>;

/** The checked `redis` option: every field present. */
export interface RedisConfig {
  url: string;
  clusterNodes: string[] | undefined;
  name: string;
  partitions: number;
  batchMessages: number;
  maxStreamEntries: number;
  leaseMs: number;
  maxDeliveries: number;
  doneTtlMs: number;
  deadLetterMaxEntries: number;
  connectTimeoutMs: number;
}

const KNOWN = new Set<string>([
  'url',
  'clusterNodes',
  'name',
  'partitions',
  'batchMessages',
  'maxStreamEntries',
  'leaseMs',
  'maxDeliveries',
  'doneTtlMs',
  'deadLetterMaxEntries',
  'connectTimeoutMs',
]);

function int(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`redis.${name} must be an integer from ${min} to ${max}; got ${describeValue(value)}`);
  }
  return value;
}

/** Partitions are the ring's shards, so a power of two. */
function checkPartitions(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1024 || (value & (value - 1)) !== 0) {
    throw new InvalidArgumentError(`redis.partitions must be a power of two from 1 to 1024; got ${describeValue(value)}`);
  }
  return value;
}

/** Checks a `redis` option (undefined = every default). */
export function resolveRedisOptions(options: unknown): RedisConfig {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`redis must be an object such as { url, name }; got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`unknown option redis.${key}; allowed: ${[...KNOWN].join(', ')}`);
  }
  const url = o.url ?? DEFAULT_REDIS_OPTIONS.url;
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new InvalidArgumentError(`redis.url must be a redis:// or rediss:// URL; got ${describeValue(url)}`);
  }
  const nodes = o.clusterNodes;
  if (nodes !== undefined && (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => typeof n === 'string' && n.length > 0))) {
    throw new InvalidArgumentError(`redis.clusterNodes must be a non-empty array of 'host:port' strings; got ${describeValue(nodes)}`);
  }
  const name = o.name ?? DEFAULT_REDIS_OPTIONS.name;
  // Braces would break the hash tag that keeps a partition's keys in one Cluster slot.
  if (typeof name !== 'string' || !/^[\w.:-]{1,128}$/.test(name)) {
    throw new InvalidArgumentError(`redis.name must be 1 to 128 characters from [A-Za-z0-9_.:-]; got ${describeValue(name)}`);
  }
  const d = DEFAULT_REDIS_OPTIONS;
  return {
    url,
    clusterNodes: nodes as string[] | undefined,
    name,
    partitions: checkPartitions(o.partitions ?? d.partitions),
    batchMessages: int('batchMessages', o.batchMessages ?? d.batchMessages, 1, 65_536),
    maxStreamEntries: int('maxStreamEntries', o.maxStreamEntries ?? d.maxStreamEntries, 1, 2 ** 31),
    leaseMs: int('leaseMs', o.leaseMs ?? d.leaseMs, 100, 3_600_000),
    maxDeliveries: int('maxDeliveries', o.maxDeliveries ?? d.maxDeliveries, 1, 1000),
    doneTtlMs: int('doneTtlMs', o.doneTtlMs ?? d.doneTtlMs, 1000, 2 ** 31),
    deadLetterMaxEntries: int('deadLetterMaxEntries', o.deadLetterMaxEntries ?? d.deadLetterMaxEntries, 0, 2 ** 31),
    connectTimeoutMs: int('connectTimeoutMs', o.connectTimeoutMs ?? d.connectTimeoutMs, 1, 600_000),
  };
}
