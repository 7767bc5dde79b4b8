// Enqueueing from a worker thread: the thread attaches to the queue's ring (the SharedArrayBuffer in a
// ProducerHandle) and writes slots in place, exactly as the owner does; results are harvested by the
// owner thread. Waiting for space sleeps on SPACE_DOORBELL, which the owner's harvester bumps.

import { threadId } from 'node:worker_threads';
import { checkTimeout } from './core/options.js';
import { checkEnqueueOptionNames, type EnqueueBatchOptions, type EnqueueOptions, type MessageKey, Producer } from './core/producer.js';
import { Control } from './core/slot-layout.js';
import { SlotRing } from './core/slot-ring.js';
import type { ProducerHandle } from './queue.js';

export class RemoteProducer {
  private readonly ring: SlotRing;
  private readonly producer: Producer;
  private readonly enqueueTimeoutMs: number;

  constructor(handle: ProducerHandle) {
    this.ring = SlotRing.attach(handle.sab);
    this.enqueueTimeoutMs = handle.enqueueTimeoutMs;
    // Start round robin at a different shard on each thread, so threads do not all hit shard 0 first.
    this.producer = new Producer(this.ring, handle.partitioner, (ms, retry) => this.waitForSpace(ms, retry), threadId);
  }

  tryEnqueue(payload: Uint8Array, options: { key?: MessageKey } = {}): number {
    return this.producer.tryEnqueue(payload, options.key);
  }

  async enqueue(payload: Uint8Array, options: EnqueueOptions = {}): Promise<number> {
    checkEnqueueOptionNames('enqueue', options);
    const { key, ...rest } = options;
    const [id] = await this.enqueueBatch([payload], { ...rest, ...(key === undefined ? {} : { keys: [key] }) });
    return id as number;
  }

  async enqueueBatch(payloads: Uint8Array[], options: EnqueueBatchOptions = {}): Promise<number[]> {
    checkEnqueueOptionNames('enqueueBatch', options);
    this.producer.checkPayloads(payloads);
    const keys = options.keys?.map((k, i) => this.producer.checkKey(k, `keys[${i}]`));
    const timeoutMs = options.timeoutMs === undefined ? this.enqueueTimeoutMs : checkTimeout('timeoutMs', options.timeoutMs);
    return this.producer.enqueueMany(payloads, keys, timeoutMs, options.signal, options.onIds);
  }

  /**
   * Sleeps until the harvester frees slots. Count ourselves as a waiter first, then try once more: the
   * harvester publishes HARVEST_TAIL before it reads SPACE_WAITERS, so either our retry sees the space or
   * the harvester sees us and bumps the doorbell after we read it.
   */
  private async waitForSpace(ms: number, retry: () => boolean): Promise<void> {
    const { i32 } = this.ring;
    Atomics.add(i32, Control.SPACE_WAITERS, 1);
    try {
      const seen = Atomics.load(i32, Control.SPACE_DOORBELL);
      if (retry()) return;
      const r = Atomics.waitAsync(i32, Control.SPACE_DOORBELL, seen, ms);
      if (r.async) await r.value;
    } finally {
      Atomics.sub(i32, Control.SPACE_WAITERS, 1);
    }
  }
}

/** In a worker thread: a producer for the queue whose `producerHandle()` was passed in. */
export function attachProducer(handle: ProducerHandle): RemoteProducer {
  return new RemoteProducer(handle);
}
