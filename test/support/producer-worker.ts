// A producer thread for the contract suite: attaches to a queue through its ProducerHandle and enqueues
// `count` messages, some in batches and some one by one, each keyed by this thread and carrying
// [thread, sequence, key] as little-endian uint32s. Posts the ids it got, in enqueue order.
// node --test also loads this file on the main thread, where it does nothing.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { attachProducer, type MessageKey, type ProducerHandle } from '../../src/index.js';
import { randomInt, seededRandom, u32Payload } from './contract-kit.js';

export interface ProducerWorkerData {
  handle: ProducerHandle;
  thread: number;
  count: number;
  keysPerThread: number;
}

export interface ProducerWorkerReport {
  thread: number;
  ids: number[];
}

export const producerKey = (thread: number, key: number): MessageKey => `thread-${thread}/key-${key}`;

async function produce({ handle, thread, count, keysPerThread }: ProducerWorkerData): Promise<ProducerWorkerReport> {
  const producer = attachProducer(handle);
  const rand = seededRandom(1000 + thread);
  const ids: number[] = [];
  let seq = 0;
  const next = (): { payload: Uint8Array; key: MessageKey } => {
    const key = randomInt(rand, keysPerThread);
    const payload = u32Payload([thread, seq, key]);
    seq++;
    return { payload, key: producerKey(thread, key) };
  };
  while (seq < count) {
    if (rand() < 0.5) {
      const n = Math.min(count - seq, 1 + randomInt(rand, 64));
      const messages = Array.from({ length: n }, next);
      const got = await producer.enqueueBatch(
        messages.map((m) => m.payload),
        { keys: messages.map((m) => m.key), timeoutMs: 30_000 },
      );
      ids.push(...got);
    } else {
      const m = next();
      ids.push(await producer.enqueue(m.payload, { key: m.key, timeoutMs: 30_000 }));
    }
  }
  return { thread, ids };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  produce(workerData as ProducerWorkerData).then((report) => port.postMessage(report));
}
