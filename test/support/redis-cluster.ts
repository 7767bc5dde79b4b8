// A local Redis Cluster for tests: three masters (`redis-server --cluster-enabled yes`) on free loopback
// ports, joined with `redis-cli --cluster create … --cluster-replicas 0`, ready once every node reports
// cluster_state:ok. `stop()` kills them and removes their directories; nothing outlives the test.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, redisUnreachableReason } from './redis-server.js';

const run = promisify(execFile);
/** A node's cluster bus listens on its port + 10000. */
const BUS_OFFSET = 10_000;
const READY_WITHIN_MS = 60_000;

/** Whether redis-server and redis-cli are both on PATH (a cluster needs both); undefined when they are. */
export async function redisClusterToolsMissingReason(): Promise<string | undefined> {
  for (const tool of ['redis-server', 'redis-cli']) {
    try {
      await run(tool, ['--version']);
    } catch (error) {
      return `${tool} is not on PATH (apt-get install redis-server redis-tools): ${(error as Error).message}`;
    }
  }
  return undefined;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = await freePort();
    if (port + BUS_OFFSET > 65_535 || taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if (await portIsFree(port + BUS_OFFSET)) return port;
  }
  throw new Error('no free loopback port pair (port, port + 10000) for a cluster node');
}

export class LocalRedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly dir: string,
    private readonly nodes: ChildProcess[],
  ) {}

  /** `host:port` of every master, as `redis.clusterNodes` takes them. */
  get seeds(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  /** Starts `masters` nodes, creates the cluster, resolves once every node says cluster_state:ok. */
  static async start(masters = 3): Promise<LocalRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'gq-cluster-'));
    const taken = new Set<number>();
    const ports: number[] = [];
    const nodes: ChildProcess[] = [];
    const cluster = new LocalRedisCluster(ports, dir, nodes);
    try {
      for (let i = 0; i < masters; i++) {
        const port = await freeClusterPort(taken);
        taken.add(port).add(port + BUS_OFFSET);
        ports.push(port);
        const args = [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '5000',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
        ];
        nodes.push(spawn('redis-server', args, { stdio: 'ignore' }));
      }
      await cluster.waitFor(async () => {
        for (const port of ports) if ((await redisUnreachableReason(`redis://127.0.0.1:${port}`)) !== undefined) return false;
        return true;
      }, 'every node answers PING');
      await run('redis-cli', ['--cluster', 'create', ...cluster.seeds, '--cluster-replicas', '0', '--cluster-yes'], {
        timeout: READY_WITHIN_MS,
      });
      await cluster.waitFor(() => cluster.allOk(), 'every node reports cluster_state:ok');
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  private async allOk(): Promise<boolean> {
    for (const port of this.ports) {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {});
      try {
        await client.connect();
        const info = await client.cluster('INFO');
        if (!/cluster_state:ok/.test(info)) return false;
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    }
    return true;
  }

  /** Polls `ready` every 100 ms until it holds (a node that exits fails at once). */
  private async waitFor(ready: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + READY_WITHIN_MS;
    while (!(await ready())) {
      const dead = this.nodes.findIndex((n) => n.exitCode !== null);
      if (dead >= 0) throw new Error(`cluster node on port ${this.ports[dead]} exited with ${this.nodes[dead]?.exitCode}`);
      if (Date.now() > deadline) throw new Error(`the local Redis Cluster did not get ready (${what}) within ${READY_WITHIN_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills every node (SIGKILL, waiting for each to exit) and removes their data directory. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(
        (node) =>
          new Promise<void>((resolve) => {
            if (node.exitCode !== null || node.signalCode !== null) return resolve();
            node.once('exit', () => resolve());
            node.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
