// A redis-server of the bench's own per case (a free loopback port, no persistence), so contenders never
// share state or the machine's Redis with each other or with tests running beside the bench; and the
// consumer side of a Redis contender in a child process (as it runs in a deployment: producers and
// workers are different processes, here sharing the machine's 2 cores with redis-server).
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export interface BenchRedis {
  url: string;
  port: number;
  version: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The `redis-server --version` line's version, or why not (the bench then fails with it). */
export function redisServerVersion(): string {
  try {
    const text = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return /v=(\S+)/.exec(text)?.[1] ?? text.trim();
  } catch (error) {
    throw new Error(`the redis bench needs redis-server on PATH (apt-get install redis-server): ${(error as Error).message}`);
  }
}

/** Servers started by this process: killed when it exits or is told to stop, so none outlives a case. */
const servers = new Set<ChildProcess>();
const killServers = () => {
  for (const child of servers) child.kill('SIGKILL');
};
process.once('exit', killServers);
process.once('SIGTERM', () => {
  killServers();
  process.exit(143);
});

/** Starts redis-server on a free loopback port; resolves once it answers PING. */
export async function startRedis(): Promise<BenchRedis> {
  const version = redisServerVersion();
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} on port ${port}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      probe.disconnect();
    }
  }
  return {
    url,
    port,
    version,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** A consumer module (workers/*-consumer.js) in a child process; resolves once it says it is consuming. */
export async function startConsumer(module: string, options: Record<string, unknown>): Promise<ConsumerProcess> {
  const child = fork(fileURLToPath(new URL(`../workers/${module}.js`, import.meta.url)), [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${module} exited (${code}) before it started`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', () => {
      child.off('exit', onExit);
      resolve();
    });
    child.send(options);
  });
  return new ConsumerProcess(child);
}

export class ConsumerProcess {
  constructor(private readonly child: ChildProcess) {}

  /** Asks the consumer to stop; resolves with what it reports (facts for the JSON), killing it after 10 s. */
  stop(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      let report: Record<string, unknown> = {};
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      this.child.once('message', (m: Record<string, unknown>) => {
        report = m;
      });
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve(report);
      });
      if (this.child.connected) this.child.send('stop');
      else this.child.kill('SIGKILL');
    });
  }
}
