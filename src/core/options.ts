// Queue options: the interface with each default documented, the defaults in one const, and the one
// validation that turns user input into a complete, checked config. Every error names the option, the
// value given and what is allowed.
import { availableParallelism } from 'node:os';
import { describeValue, InvalidArgumentError } from './errors.js';
import type { PartitionerSpec } from './partitioners.js';

export const BACKENDS = ['auto', 'cpu', 'cuda', 'webgpu', 'redis'] as const;
export type Backend = (typeof BACKENDS)[number];

/** A handler by name, or by name with its parameters (e.g. `{ name: 'fault', inner: 'checksum', failRate: 0.01 }`). */
export type HandlerOption = string | ({ name: string } & Record<string, unknown>);

export interface QueueOptions {
  /** Which engine consumes the ring. `auto` picks the best usable one. **Default:** `'auto'` */
  backend?: Backend;
  /** Messages the queue holds at most (queued + in flight + results not yet harvested); a power of two. **Default:** `4096` */
  capacity?: number;
  /** Largest payload in bytes. **Default:** `2048` */
  slotBytes?: number;
  /** Largest result in bytes. **Default:** the handler's own need, else `slotBytes` */
  resultBytes?: number;
  /** The handler run on every message. **Default:** `'echo'` */
  handler?: HandlerOption;
  /** Handler runs after the first that may fail before a message is dead-lettered. **Default:** `3` */
  maxRetries?: number;
  /** Consumer threads of the cpu engine; also caps the webgpu engine's (docs/api/open.md). **Default:** cores − 1, at least 1 */
  workers?: number;
  /** How keyed messages map to consumers (all messages of one key go to one consumer, in order). **Default:** `{ kind: 'consistent-hash' }` */
  partitioner?: PartitionerSpec;
  /** How long `enqueue` waits for space when the queue is full. **Default:** `5000` */
  enqueueTimeoutMs?: number;
  /** How long `result` waits for a message to complete. **Default:** `60000` */
  resultTimeoutMs?: number;
  /** Harvested results kept for `result`/`pollCompletions` before the queue stops harvesting (and so fills). **Default:** `16 × capacity` */
  maxRetainedResults?: number;
  /** How long the owner thread spins for a completion before yielding to the event loop. **Default:** `20` */
  pollSpinUs?: number;
  /** How long an idle consumer spins before it sleeps. **Default:** `200` */
  consumerSpinUs?: number;
  /**
   * What happens when a GPU engine dies (a lost context, a kernel that stopped beating): `'none'` fails
   * pending calls with EngineFailedError; `'cpu'` hands the unfinished messages, in place, to cpu workers.
   * **Default:** `'none'`
   */
  fallback?: 'none' | 'cpu';
  /**
   * A GPU engine whose consumers stop making progress for this long (a handler that never returns, a hung
   * GPU: the cuda kernel's heartbeat stops) is failed, as a lost context is (see `fallback`). Set it above
   * the longest a handler may run on one batch. **Default:** `10000`
   */
  watchdogMs?: number;
  /**
   * How completions are read. `'auto'`: harvested in the background into completion objects (`result`,
   * `pollCompletions`, `completions()`), and `pollCompletionsInto` works too. `'on-poll'`: only
   * `pollCompletionsInto` takes finished messages, straight from the ring into typed arrays with no
   * object per message (the throughput path); the object-returning calls are refused. **Default:** `'auto'`
   */
  harvest?: 'auto' | 'on-poll';
  /** The redis engine's connection and protocol settings, checked by that engine (docs/redis.md). */
  redis?: Record<string, unknown>;
}

export const DEFAULT_OPTIONS = {
  backend: 'auto',
  capacity: 4096,
  slotBytes: 2048,
  handler: 'echo',
  maxRetries: 3,
  partitioner: { kind: 'consistent-hash' },
  enqueueTimeoutMs: 5000,
  resultTimeoutMs: 60_000,
  retainedResultsPerSlot: 16,
  pollSpinUs: 20,
  consumerSpinUs: 200,
  fallback: 'none',
  watchdogMs: 10_000,
  harvest: 'auto',
} as const satisfies Partial<Record<keyof QueueOptions | 'retainedResultsPerSlot', unknown>>;

export const LIMITS = {
  capacity: { min: 2, max: 1 << 24 },
  slotBytes: { min: 1, max: 16 << 20 },
  maxRetries: { min: 0, max: 1000 },
  workers: { min: 1, max: 256 },
  spinUs: { min: 0, max: 1_000_000 },
  watchdogMs: { min: 100, max: 86_400_000 },
  /** The ring is one SharedArrayBuffer; keep it well under what V8 allows. */
  ringBytes: 4 * 2 ** 30,
} as const;

/** The checked config: every option present. */
export interface QueueConfig {
  backend: Backend;
  capacity: number;
  slotBytes: number;
  resultBytes: number | undefined;
  handler: HandlerOption;
  maxRetries: number;
  workers: number;
  partitioner: PartitionerSpec;
  enqueueTimeoutMs: number;
  resultTimeoutMs: number;
  maxRetainedResults: number;
  pollSpinUs: number;
  consumerSpinUs: number;
  fallback: 'none' | 'cpu';
  watchdogMs: number;
  harvest: 'auto' | 'on-poll';
  /** Engine-specific options, passed through unchecked here: each engine checks its own (core knows no engine). */
  redis: unknown;
}

const KNOWN_OPTIONS = new Set<string>([
  'backend',
  'capacity',
  'slotBytes',
  'resultBytes',
  'handler',
  'maxRetries',
  'workers',
  'partitioner',
  'enqueueTimeoutMs',
  'resultTimeoutMs',
  'maxRetainedResults',
  'pollSpinUs',
  'consumerSpinUs',
  'fallback',
  'watchdogMs',
  'harvest',
  'redis',
]);

export const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}; got ${describeValue(value)}`);
  }
  return value;
}

/** A duration in ms: a non-negative number or Infinity. */
export function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds ≥ 0 (or Infinity); got ${describeValue(value)}`);
  }
  return value;
}

export function resolveOptions(options: unknown): QueueConfig {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`options must be an object; got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new InvalidArgumentError(`unknown option ${JSON.stringify(key)}; allowed: ${[...KNOWN_OPTIONS].join(', ')}`);
    }
  }
  const backend = o.backend ?? DEFAULT_OPTIONS.backend;
  if (!BACKENDS.includes(backend as Backend)) {
    throw new InvalidArgumentError(`backend must be one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}; got ${describeValue(backend)}`);
  }
  const capacity = o.capacity ?? DEFAULT_OPTIONS.capacity;
  if (!isPowerOfTwo(capacity as number) || (capacity as number) < LIMITS.capacity.min || (capacity as number) > LIMITS.capacity.max) {
    throw new InvalidArgumentError(
      `capacity must be a power of two from ${LIMITS.capacity.min} to ${LIMITS.capacity.max}; got ${describeValue(capacity)}`,
    );
  }
  const slotBytes = checkInteger('slotBytes', o.slotBytes ?? DEFAULT_OPTIONS.slotBytes, LIMITS.slotBytes.min, LIMITS.slotBytes.max);
  const resultBytes = o.resultBytes === undefined ? undefined : checkInteger('resultBytes', o.resultBytes, 1, LIMITS.slotBytes.max);
  const handler = o.handler ?? DEFAULT_OPTIONS.handler;
  if (
    typeof handler !== 'string' &&
    (typeof handler !== 'object' || handler === null || typeof (handler as { name?: unknown }).name !== 'string')
  ) {
    throw new InvalidArgumentError(`handler must be a handler name or an object with a string name; got ${describeValue(handler)}`);
  }
  const workers = checkInteger('workers', o.workers ?? Math.max(1, availableParallelism() - 1), LIMITS.workers.min, LIMITS.workers.max);
  const fallback = o.fallback ?? DEFAULT_OPTIONS.fallback;
  if (fallback !== 'none' && fallback !== 'cpu') {
    throw new InvalidArgumentError(`fallback must be 'none' or 'cpu'; got ${describeValue(fallback)}`);
  }
  const harvest = o.harvest ?? DEFAULT_OPTIONS.harvest;
  if (harvest !== 'auto' && harvest !== 'on-poll') {
    throw new InvalidArgumentError(`harvest must be 'auto' or 'on-poll'; got ${describeValue(harvest)}`);
  }
  const config: QueueConfig = {
    backend: backend as Backend,
    capacity: capacity as number,
    slotBytes,
    resultBytes,
    handler: handler as HandlerOption,
    maxRetries: checkInteger('maxRetries', o.maxRetries ?? DEFAULT_OPTIONS.maxRetries, LIMITS.maxRetries.min, LIMITS.maxRetries.max),
    workers,
    partitioner: (o.partitioner ?? DEFAULT_OPTIONS.partitioner) as PartitionerSpec,
    enqueueTimeoutMs: checkTimeout('enqueueTimeoutMs', o.enqueueTimeoutMs ?? DEFAULT_OPTIONS.enqueueTimeoutMs),
    resultTimeoutMs: checkTimeout('resultTimeoutMs', o.resultTimeoutMs ?? DEFAULT_OPTIONS.resultTimeoutMs),
    maxRetainedResults: checkInteger(
      'maxRetainedResults',
      o.maxRetainedResults ?? DEFAULT_OPTIONS.retainedResultsPerSlot * (capacity as number),
      1,
      2 ** 31,
    ),
    pollSpinUs: checkInteger('pollSpinUs', o.pollSpinUs ?? DEFAULT_OPTIONS.pollSpinUs, LIMITS.spinUs.min, LIMITS.spinUs.max),
    consumerSpinUs: checkInteger(
      'consumerSpinUs',
      o.consumerSpinUs ?? DEFAULT_OPTIONS.consumerSpinUs,
      LIMITS.spinUs.min,
      LIMITS.spinUs.max,
    ),
    fallback,
    harvest,
    watchdogMs: checkInteger('watchdogMs', o.watchdogMs ?? DEFAULT_OPTIONS.watchdogMs, LIMITS.watchdogMs.min, LIMITS.watchdogMs.max),
    redis: o.redis,
  };
  return config;
}
