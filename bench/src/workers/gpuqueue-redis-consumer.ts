// gpuqueue's side of the Redis bench: a RedisWorker (what `gpuqueue worker` runs) with its defaults —
// the cpu engine with cores − 1 threads — running the producer's batches with the `checksum` handler.
import { RedisWorker } from 'gpuqueue';
import { runConsumerProcess } from './consumer-process.js';

runConsumerProcess<{ url: string; name: string }>(async ({ url, name }) => {
  const worker = await RedisWorker.start({ engine: 'cpu', redis: { url, name } });
  return async () => {
    const stats = worker.stats();
    await worker.stop();
    return { worker: { batches: stats.batches, messages: stats.messages, partitions: stats.partitions, engines: stats.engines } };
  };
});
