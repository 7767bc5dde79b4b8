// Producer worker threads for the gpuqueue contender: each attaches to the queue's ring
// (workers/producer-worker.ts) and holds its share of every batch from the start; enqueue() asks all of
// them to enqueue their share of one batch and reports each share's ids as they come back.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ProducerHandle } from 'gpuqueue';
import type { Batch } from './contender.js';
import { shareBounds } from './shares.js';

const WORKER_FILE = fileURLToPath(new URL('./workers/producer-worker.js', import.meta.url));

// The protocol with workers/producer-worker.ts (here, so that importing it runs no worker code).
export interface ProducerWorkerData {
  handle: ProducerHandle;
  /** shares[b]: this thread's payloads of batch b. */
  shares: Uint8Array[][];
}

export interface EnqueueRequest {
  seq: number;
  batch: number;
}

/**
 * Per request, from each thread: its share's ids [firstId, firstId + count), in order, as soon as they are
 * taken; then `settled` once the whole share is in the ring, or the error (which may also come after the ids).
 */
export type EnqueueReply =
  | { seq: number; firstId: number; count: number; contiguous: boolean }
  | { seq: number; settled: true }
  | { seq: number; error: string };
/** Sent once by a worker: attached and listening. */
export const READY = 'ready';

/** Ids [firstId, firstId + count) are payloads [offset, offset + count) of a batch. */
export interface IdSpan {
  firstId: number;
  count: number;
  offset: number;
}

interface Request {
  onSpan(span: IdSpan): void;
  onError(error: Error): void;
  /** Threads yet to answer. */
  pending: number;
}

export class ProducerThreads {
  private readonly workers: Worker[];
  private readonly bounds: number[];
  private readonly requests = new Map<number, Request>();
  private seq = 0;

  private constructor(workers: Worker[], bounds: number[]) {
    this.workers = workers;
    this.bounds = bounds;
    workers.forEach((w, t) => {
      w.on('message', (m: EnqueueReply) => this.reply(t, m));
      w.on('error', (error) => this.failAll(error));
    });
  }

  /** Starts `threads` producers, each given its share of every batch; resolves once all are attached. */
  static async start(handle: ProducerHandle, batches: readonly Batch[], threads: number): Promise<ProducerThreads> {
    const count = batches[0]?.payloads.length ?? 0;
    const bounds = shareBounds(count, threads);
    const workers = Array.from({ length: threads }, (_, t) => {
      const shares = batches.map((b) => b.payloads.slice(bounds[t], bounds[t + 1]));
      return new Worker(WORKER_FILE, { workerData: { handle, shares } satisfies ProducerWorkerData });
    });
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('error', reject);
            w.once('message', (m) => (m === READY ? resolve() : reject(new Error(`producer thread: ${String(m)}`))));
          }),
      ),
    );
    return new ProducerThreads(workers, bounds);
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Every thread enqueues its share of batch `batch`; onSpan once per share (in any order). */
  enqueue(batch: number, onSpan: (span: IdSpan) => void, onError: (error: Error) => void): void {
    const seq = this.seq++;
    this.requests.set(seq, { onSpan, onError, pending: this.workers.length });
    const request: EnqueueRequest = { seq, batch };
    for (const w of this.workers) w.postMessage(request);
  }

  private reply(thread: number, m: EnqueueReply): void {
    const request = this.requests.get(m.seq);
    if (!request) return;
    if ('error' in m) {
      this.requests.delete(m.seq);
      request.onError(new Error(`producer thread ${thread}: ${m.error}`));
      return;
    }
    if ('settled' in m) {
      if (--request.pending === 0) this.requests.delete(m.seq);
      return;
    }
    if (!m.contiguous) {
      this.requests.delete(m.seq);
      request.onError(new Error(`producer thread ${thread} got non-contiguous ids for one enqueueBatch`));
      return;
    }
    if (m.count > 0) request.onSpan({ firstId: m.firstId, count: m.count, offset: this.bounds[thread] as number });
  }

  private failAll(error: Error): void {
    for (const r of this.requests.values()) r.onError(error);
    this.requests.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
