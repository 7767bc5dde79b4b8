// Redis for tests: the shared server on 127.0.0.1:6379 (reachable or not, with the reason), private
// redis-server processes on free loopback ports for tests that kill or restart Redis, worker child
// processes for tests that kill a worker, and cleanup of one queue's keys.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { keyPatterns } from '../../src/engines/redis/keys.js';

export const SHARED_REDIS_URL = process.env.GPUQUEUE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Undefined when Redis answers PING at `url`; else why not, for a skip reason. */
export async function redisUnreachableReason(url = SHARED_REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `no Redis at ${url} (${(error as Error).message}); set GPUQUEUE_TEST_REDIS_URL or start redis-server`;
  } finally {
    client.disconnect();
  }
}

/** Whether a redis-server binary is on PATH (fault tests start their own). */
export async function redisServerMissingReason(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const p = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve('redis-server is not on PATH (apt-get install redis-server)'));
    p.on('exit', (code) => resolve(code === 0 ? undefined : `redis-server --version exited with ${code}`));
  });
}

/** A unique queue name per test, so tests never see each other's streams. */
export const uniqueQueueName = (what: string): string =>
  `test-${what}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** Deletes every key of a queue (streams, leases, inboxes, done marks, configs). */
export async function deleteQueueKeys(url: string, name: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    for (const pattern of keyPatterns(name)) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A redis-server of our own on a loopback port, with its data in a temporary directory. */
export class PrivateRedis {
  readonly port: number;
  readonly dir: string;
  private readonly extraArgs: string[];
  private process: ChildProcess | undefined;

  private constructor(port: number, dir: string, extraArgs: string[]) {
    this.port = port;
    this.dir = dir;
    this.extraArgs = extraArgs;
  }

  /** Starts one; `extraArgs` are redis-server options such as ['--appendonly', 'yes', '--appendfsync', 'always']. */
  static async start(extraArgs: string[] = []): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), 'gq-redis-')), extraArgs);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and data directory; resolves once it answers PING. */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...this.extraArgs];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.process = child;
    // Generous: a loaded machine can take seconds to start (and, with appendonly, to load) a server.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if ((await redisUnreachableReason(this.url)) === undefined) return;
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (args: ${args.join(' ')})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not answer within 30 s`);
  }

  /** kill -9: no shutdown save, connections drop at once. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A RedisWorker in a child process (so a test can kill -9 it); resolves once it owns its partitions. */
export async function startWorkerProcess(options: { url: string; name: string; leaseMs: number; threads?: number }): Promise<ChildProcess> {
  const workerModule = new URL('../../src/engines/redis/worker.js', import.meta.url).href;
  const source = `
    const { RedisWorker } = await import(${JSON.stringify(workerModule)});
    const w = await RedisWorker.start({
      engine: 'cpu', threads: ${options.threads ?? 1}, blockMs: 200, onError: (e) => console.error('worker error:', e.message),
      redis: { url: ${JSON.stringify(options.url)}, name: ${JSON.stringify(options.name)}, leaseMs: ${options.leaseMs} },
    });
    process.send({ type: 'started', id: w.id });
    setInterval(() => process.send({ type: 'stats', stats: w.stats() }), 50);
    process.on('message', async (m) => { if (m === 'stop') { await w.stop(); process.exit(0); } });
  `;
  // A file rather than `--eval`: the local engine's worker threads inherit execArgv, and --input-type would break them.
  const script = join(mkdtempSync(join(tmpdir(), 'gq-worker-')), 'worker.mjs');
  writeFileSync(script, source);
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code} before starting`)));
    child.on('message', (m: { type?: string }) => {
      if (m?.type === 'started') resolve();
    });
  });
  child.removeAllListeners('exit');
  return child;
}
