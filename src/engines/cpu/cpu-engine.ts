// The cpu engine: `workers` worker threads, each consuming its shards of the shared ring with the
// handler's JS implementation (consume-loop.ts). The embedded default and the reference semantics.
import { Worker } from 'node:worker_threads';
import { Control, consumerDoorbellWord } from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import type { ConsumerWorkerData } from './consumer-worker.js';

const WORKER_URL = new URL('./consumer-worker.js', import.meta.url);

export class CpuEngine implements Engine {
  readonly name = 'cpu';
  readonly wakesOwner = true;
  private readonly ctx: EngineContext;
  private readonly workers: Worker[] = [];
  private readonly exited: Promise<void>[] = [];
  private stopping = false;

  constructor(ctx: EngineContext) {
    this.ctx = ctx;
  }

  describe(): string {
    const n = this.ctx.ring.layout.consumers;
    return `${n} worker thread${n === 1 ? '' : 's'}`;
  }

  async start(): Promise<void> {
    const { ring, handler, config } = this.ctx;
    const { consumers } = ring.layout;
    const ready: Promise<void>[] = [];
    for (let w = 0; w < consumers; w++) {
      // Shard s belongs to consumer s % consumers (slot-layout.ts), so its doorbell is the one producers ring.
      const shards: number[] = [];
      for (let s = w; s < ring.layout.shards; s += consumers) shards.push(s);
      const data: ConsumerWorkerData = { sab: ring.sab, shards, handler, spinUs: config.consumerSpinUs };
      const worker = new Worker(WORKER_URL, { workerData: data, name: `gpuqueue-cpu-${w}` });
      this.workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        }),
      );
      this.exited.push(
        new Promise((resolve) => {
          worker.on('error', (error) => {
            if (!this.stopping) this.ctx.onFault(new Error(`cpu consumer ${w} died: ${error.message}`, { cause: error }));
          });
          worker.once('exit', (code) => {
            if (!this.stopping) this.ctx.onFault(new Error(`cpu consumer ${w} exited unexpectedly (code ${code})`));
            resolve();
          });
        }),
      );
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const { ring } = this.ctx;
    ring.setControl(Control.STOP, 1);
    // Wake sleeping consumers so they see STOP now rather than at their next timed check.
    for (let c = 0; c < ring.layout.consumers; c++) Atomics.notify(ring.i32, consumerDoorbellWord(ring.layout, c));
    Atomics.notify(ring.i32, Control.PAUSED);
    await Promise.all(this.exited);
  }
}
