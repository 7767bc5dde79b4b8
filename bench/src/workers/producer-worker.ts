// A producer thread of the gpuqueue contender: attaches to the queue's ring with attachProducer and, on
// each { seq, batch } from the owner, enqueues its share of that batch (the payloads it was given once
// at start, so no payload crosses threads while measured) and answers with the ids it got, then once
// more when the share is all in the ring (or with the error).
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
    port.postMessage({ seq, settled: true } satisfies EnqueueReply);
    return;
  }
  // The ids go back as soon as they are taken (onIds), before the share is all in the ring: the owner
  // then knows them before their results come back.
  let firstId = -1;
  const onIds = (first: number) => {
    firstId = first;
    port.postMessage({ seq, firstId: first, count: share.length, contiguous: true } satisfies EnqueueReply);
  };
  producer.enqueueBatch(share, { onIds }).then(
    (ids) => {
      if (ids[0] !== firstId || ids[ids.length - 1] !== firstId + ids.length - 1) {
        port.postMessage({
          seq,
          error: `enqueueBatch gave ids ${ids[0]}…${ids[ids.length - 1]}; onIds said ${firstId}`,
        } satisfies EnqueueReply);
      } else port.postMessage({ seq, settled: true } satisfies EnqueueReply);
    },
    (error: Error) => port.postMessage({ seq, error: String(error?.stack ?? error) } satisfies EnqueueReply),
  );
});
port.postMessage(READY);
