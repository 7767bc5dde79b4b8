// The cpu engine: worker threads, each consuming its shards of the shared ring with the handler's JS
// implementation (consume-loop.ts). The embedded default and the reference semantics. A consumer that
// dies is replaced and resumes its shards where the finished slots end (the slot it died on runs again).
import { Worker } from 'node:worker_threads';
import { Control, consumerDoorbellWord } from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import type { ConsumerWorkerData } from './consumer-worker.js';

const WORKER_URL = new URL('./consumer-worker.js', import.meta.url);
/** Replacements allowed per consumer before the engine gives up and reports a fault. */
export const MAX_RESTARTS_PER_CONSUMER = 16;

export class CpuEngine implements Engine {
  readonly name = 'cpu';
  readonly wakesOwner = true;
  private readonly ctx: EngineContext;
  private readonly threads: number;
  private readonly live = new Set<Promise<void>>();
  private stopping = false;
  private failed = false;
  /** Consumers replaced after dying. */
  restarts = 0;

  /** `threads` defaults to the ring's consumer count; a fallback engine may use fewer. */
  constructor(ctx: EngineContext, threads = ctx.ring.layout.consumers) {
    this.ctx = ctx;
    this.threads = Math.max(1, Math.min(threads, ctx.ring.layout.shards));
  }

  describe(): string {
    const restarts = this.restarts > 0 ? `, ${this.restarts} replaced after dying` : '';
    return `${this.threads} worker thread${this.threads === 1 ? '' : 's'}${restarts}`;
  }

  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let w = 0; w < this.threads; w++) ready.push(this.spawn(w, 0));
    try {
      await Promise.all(ready);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Starts consumer `w` (shards w, w + threads, …); resolves when it is ready to take slots. */
  private spawn(w: number, restartsSoFar: number): Promise<void> {
    const { ring, handler, config } = this.ctx;
    const shards: number[] = [];
    for (let s = w; s < ring.layout.shards; s += this.threads) shards.push(s);
    const data: ConsumerWorkerData = { sab: ring.sab, shards, handler, spinUs: config.consumerSpinUs };
    const worker = new Worker(WORKER_URL, { workerData: data, name: `gpuqueue-cpu-${w}` });
    let lastError: Error | undefined;
    const exited = new Promise<void>((resolve) => {
      worker.on('error', (error) => {
        lastError = error;
      });
      worker.once('exit', (code) => {
        this.live.delete(exited);
        resolve();
        if (this.stopping || this.failed) return;
        const why = lastError ? `threw ${lastError.message}` : `exited with code ${code}`;
        if (restartsSoFar >= MAX_RESTARTS_PER_CONSUMER) {
          this.failed = true;
          this.ctx.onFault(new Error(`cpu consumer ${w} ${why}, and was replaced ${restartsSoFar} times already`, { cause: lastError }));
          return;
        }
        this.restarts++;
        this.spawn(w, restartsSoFar + 1).catch((error: Error) => {
          this.failed = true;
          this.ctx.onFault(new Error(`cpu consumer ${w} ${why}; its replacement failed to start: ${error.message}`, { cause: error }));
        });
      });
    });
    this.live.add(exited);
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const { ring } = this.ctx;
    ring.setControl(Control.STOP, 1);
    // Wake sleeping consumers so they see STOP now rather than at their next timed check.
    for (let c = 0; c < ring.layout.consumers; c++) Atomics.notify(ring.i32, consumerDoorbellWord(ring.layout, c));
    Atomics.notify(ring.i32, Control.PAUSED);
    while (this.live.size > 0) await Promise.all([...this.live]);
  }
}
