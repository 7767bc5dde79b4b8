// Connections to Redis (ioredis): one client for commands and scripts, plus duplicates for blocking reads
// (a blocked connection serves nothing else). ioredis reconnects by itself and, by default, re-sends
// commands that were in flight; every script of the protocol is safe to run twice (lua/*.lua say why). A
// worker's XREADGROUP > is not (a delivery whose reply was lost stays pending): worker.ts recovers after one.
import { Cluster, type RedisOptions as IoRedisOptions, Redis } from 'ioredis';
import { EngineUnavailableError } from '../../core/errors.js';
import type { RedisConfig } from './options.js';

export type RedisClient = Redis | Cluster;

/** Reconnect after 50, 100, … ms, at most one second apart, forever. */
const retryStrategy = (times: number): number => Math.min(times * 50, 1000);

const ioredisOptions = (config: RedisConfig, role: string): IoRedisOptions => ({
  lazyConnect: true,
  connectionName: `gpuqueue-${role}`,
  // Commands wait through an outage instead of failing after a few retries: the callers own the
  // timeouts (the queue's enqueue/result timeouts, a worker's lease).
  maxRetriesPerRequest: null,
  connectTimeout: config.connectTimeoutMs,
  retryStrategy,
});

function parseNode(node: string): { host: string; port: number } {
  const m = /^(?:rediss?:\/\/)?([^:/]+):(\d+)\/?$/.exec(node);
  if (!m) throw new EngineUnavailableError(`redis.clusterNodes: ${JSON.stringify(node)} is not host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

export function createClient(config: RedisConfig, role: string): RedisClient {
  if (config.clusterNodes) {
    return new Cluster(config.clusterNodes.map(parseNode), {
      lazyConnect: true,
      redisOptions: ioredisOptions(config, role),
      clusterRetryStrategy: retryStrategy,
    });
  }
  return new Redis(config.url, ioredisOptions(config, role));
}

export const describeTarget = (config: RedisConfig): string =>
  config.clusterNodes ? `Redis Cluster ${config.clusterNodes.join(',')}` : `Redis at ${redactUrl(config.url)}`;

/** The URL without its password, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^@/]*:)?[^@/]*@/, '//***@');

/**
 * A connected client, or EngineUnavailableError naming the target and the last connection error when
 * Redis cannot be reached within `connectTimeoutMs`.
 */
export async function connect(config: RedisConfig, role: string): Promise<RedisClient> {
  const client = createClient(config, role);
  let lastError: Error | undefined;
  const onError = (error: Error) => {
    lastError = error;
  };
  client.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), config.connectTimeoutMs);
      }),
    ]);
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    const why = lastError?.message ?? (error as Error).message;
    throw new EngineUnavailableError(
      `the redis engine cannot reach ${describeTarget(config)} within ${config.connectTimeoutMs} ms: ${why}`,
      { cause: lastError ?? error },
    );
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}

/** Quits politely, or drops the connection if Redis does not answer within `ms`. */
export async function close(client: RedisClient, ms = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } catch {
    // already closed
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** Creates a stream's consumer group (and the stream) unless it exists. Group reads start at the first entry. */
export async function ensureGroup(client: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await client.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('BUSYGROUP')) throw error;
  }
}

/** Another connection with the same options, for a blocking read (it connects on its first command). */
export function duplicate(client: RedisClient): RedisClient {
  const copy = client instanceof Cluster ? client.duplicate() : client.duplicate();
  copy.on('error', () => {});
  return copy;
}
