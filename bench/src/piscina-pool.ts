// The Piscina pool both Piscina contenders use: Piscina's defaults (threads sized from the cores: on 2
// cores min 1, max 3), the worker in workers/checksum-worker.ts. Tracks the most threads seen in use.
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

const WORKER_FILE = fileURLToPath(new URL('./workers/checksum-worker.js', import.meta.url));

export class CheckedPool {
  readonly pool = new Piscina({ filename: WORKER_FILE });
  maxThreadsSeen = 0;

  noteThreads(): void {
    const n = this.pool.threads.length;
    if (n > this.maxThreadsSeen) this.maxThreadsSeen = n;
  }

  async close(): Promise<Record<string, unknown>> {
    this.noteThreads();
    const { minThreads, maxThreads, idleTimeout, atomics } = this.pool.options;
    await this.pool.destroy();
    return { threadsSeen: this.maxThreadsSeen, minThreads, maxThreads, idleTimeout, atomics };
  }
}
