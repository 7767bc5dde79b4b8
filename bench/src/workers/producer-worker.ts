// A producer thread of the gpuqueue contender: attaches to the queue's ring with attachProducer and, on
// each { seq, batch } from the owner, enqueues its share of that batch (the payloads it was given once
// at start, so no payload crosses threads while measured) and answers with the ids it got.
import { parentPort, workerData } from 'node:worker_threads';
import { attachProducer } from 'gpuqueue';
import { type EnqueueReply, type EnqueueRequest, type ProducerWorkerData, READY } from '../producer-threads.js';

const { handle, shares } = workerData as ProducerWorkerData;
const producer = attachProducer(handle);
const port = parentPort;
if (!port) throw new Error('producer-worker.js runs as a worker thread');

port.on('message', ({ seq, batch }: EnqueueRequest) => {
  const share = shares[batch] ?? [];
  if (share.length === 0) {
    port.postMessage({ seq, firstId: 0, count: 0, contiguous: true } satisfies EnqueueReply);
    return;
  }
  producer.enqueueBatch(share).then(
    (ids) => {
      const firstId = ids[0] as number;
      const contiguous = ids[ids.length - 1] === firstId + ids.length - 1;
      port.postMessage({ seq, firstId, count: ids.length, contiguous } satisfies EnqueueReply);
    },
    (error: Error) => port.postMessage({ seq, error: String(error?.stack ?? error) } satisfies EnqueueReply),
  );
});
port.postMessage(READY);
