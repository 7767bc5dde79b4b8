// What `gpuqueue serve` runs with: where to listen, the bearer token, and one QueueOptions per named
// queue, read from a small JSON or YAML file and/or CLI flags. Checked once here; binding to anything but
// loopback without a token is refused, so a server never starts open to the network by mistake.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { describeValue } from '../core/errors.js';
import { InvalidArgumentError, type QueueOptions } from '../index.js';

export interface ServedQueueOptions extends QueueOptions {
  /**
   * When this many completions wait to be read (GET …/results/:id), the server stops taking completions
   * from the queue, so the queue fills and producers get 429: nothing is dropped. `'evict-oldest'` keeps
   * going and forgets the oldest unread result instead (it was still published on the event stream).
   * **Default:** `'backpressure'`
   */
  whenResultsFull?: 'backpressure' | 'evict-oldest';
  /** Completions kept for GET …/results/:id. **Default:** `16 × capacity` */
  retainResults?: number;
  /** Largest batch a POST …/batch may carry, in messages. **Default:** `capacity` */
  maxBatch?: number;
}

export interface ServeOptions {
  /** **Default:** `'127.0.0.1'` */
  host?: string;
  /** **Default:** `8080` (0: any free port) */
  port?: number;
  /** Bearer token; required unless `host` is a loopback address. */
  token?: string;
  /** Named queues. **Default:** one queue `default` with the library's defaults */
  queues?: Record<string, ServedQueueOptions>;
  /** pino level. **Default:** `'warn'` (quiet) */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How often a stats event is published on each queue's event stream. **Default:** `1000` */
  statsIntervalMs?: number;
  /** Events (completions and stats) kept per queue for Last-Event-ID resumption. **Default:** `4096` */
  eventLogSize?: number;
  /** How long SIGTERM waits for in-flight messages and unread results before closing. **Default:** `30000` */
  drainTimeoutMs?: number;
}

export const DEFAULT_SERVE_OPTIONS = {
  host: '127.0.0.1',
  port: 8080,
  logLevel: 'warn',
  statsIntervalMs: 1000,
  eventLogSize: 4096,
  drainTimeoutMs: 30_000,
  queueName: 'default',
} as const;

export interface ServeConfig {
  host: string;
  port: number;
  token: string | undefined;
  queues: Map<string, ServedQueueOptions>;
  logLevel: NonNullable<ServeOptions['logLevel']>;
  statsIntervalMs: number;
  eventLogSize: number;
  drainTimeoutMs: number;
}

const KNOWN = new Set(['host', 'port', 'token', 'queues', 'logLevel', 'statsIntervalMs', 'eventLogSize', 'drainTimeoutMs']);
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Whether a listen address only reaches this machine. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Reads a config file: `.yaml`/`.yml` as YAML, anything else as JSON. */
export function readConfigFile(path: string): ServeOptions {
  const text = readFileSync(path, 'utf8');
  const parsed: unknown = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`config file ${path} must hold an object; got ${describeValue(parsed)}`);
  }
  return parsed as ServeOptions;
}

const wholeNumber = (name: string, value: unknown, min: number, max: number): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}; got ${describeValue(value)}`);
  }
  return value;
};

/** Checks serve options into a complete config; queue options themselves are checked by `open()`. */
export function resolveServeOptions(options: ServeOptions = {}): ServeConfig {
  const unknown = Object.keys(options).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown serve option ${unknown.join(', ')}; known: ${[...KNOWN].join(', ')}`);
  const host = options.host ?? DEFAULT_SERVE_OPTIONS.host;
  if (typeof host !== 'string' || host === '') throw new InvalidArgumentError(`host must be an address; got ${describeValue(host)}`);
  const token = options.token === '' ? undefined : options.token;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new InvalidArgumentError('token must be a string of at least 16 characters');
  }
  if (!isLoopback(host) && token === undefined) {
    throw new InvalidArgumentError(
      `refusing to listen on ${host} without a token: give --token (or GPUQUEUE_TOKEN) or listen on 127.0.0.1`,
    );
  }
  const logLevel = options.logLevel ?? DEFAULT_SERVE_OPTIONS.logLevel;
  if (!LEVELS.includes(logLevel))
    throw new InvalidArgumentError(`logLevel must be one of ${LEVELS.join(', ')}; got ${describeValue(logLevel)}`);
  const queues = new Map<string, ServedQueueOptions>();
  for (const [name, q] of Object.entries(options.queues ?? { [DEFAULT_SERVE_OPTIONS.queueName]: {} })) {
    if (!QUEUE_NAME.test(name)) throw new InvalidArgumentError(`queue name ${describeValue(name)} must match ${QUEUE_NAME}`);
    if (q === null || typeof q !== 'object') throw new InvalidArgumentError(`queues.${name} must be an object of queue options`);
    const w = q.whenResultsFull;
    if (w !== undefined && w !== 'backpressure' && w !== 'evict-oldest') {
      throw new InvalidArgumentError(`queues.${name}.whenResultsFull must be 'backpressure' or 'evict-oldest'; got ${describeValue(w)}`);
    }
    if (q.retainResults !== undefined) wholeNumber(`queues.${name}.retainResults`, q.retainResults, 1, 2 ** 30);
    if (q.maxBatch !== undefined) wholeNumber(`queues.${name}.maxBatch`, q.maxBatch, 1, 2 ** 24);
    queues.set(name, q);
  }
  if (queues.size === 0) throw new InvalidArgumentError('queues must name at least one queue');
  return {
    host,
    port: wholeNumber('port', options.port ?? DEFAULT_SERVE_OPTIONS.port, 0, 65535),
    token,
    queues,
    logLevel,
    statsIntervalMs: wholeNumber('statsIntervalMs', options.statsIntervalMs ?? DEFAULT_SERVE_OPTIONS.statsIntervalMs, 50, 3_600_000),
    eventLogSize: wholeNumber('eventLogSize', options.eventLogSize ?? DEFAULT_SERVE_OPTIONS.eventLogSize, 16, 1 << 20),
    drainTimeoutMs: wholeNumber('drainTimeoutMs', options.drainTimeoutMs ?? DEFAULT_SERVE_OPTIONS.drainTimeoutMs, 0, 3_600_000),
  };
}
