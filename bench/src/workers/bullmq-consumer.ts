// BullMQ's side of the Redis bench: one Worker with `concurrency` jobs at a time, the processor computing
// the same FNV-1a (imported from gpuqueue) over the job's payload (base64 in the job data: BullMQ job data
// is JSON) and returning it, so the producer gets it in the `completed` event.
import { Worker } from 'bullmq';
import { fnv1a } from 'gpuqueue';
import { runConsumerProcess } from './consumer-process.js';

runConsumerProcess<{ port: number; queue: string; concurrency: number }>(async ({ port, queue, concurrency }) => {
  let jobs = 0;
  const worker = new Worker(
    queue,
    async (job) => {
      jobs++;
      return fnv1a(Buffer.from((job.data as { p: string }).p, 'base64'));
    },
    { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null }, concurrency },
  );
  await worker.waitUntilReady();
  return async () => {
    await worker.close();
    return { worker: { jobs, concurrency } };
  };
});
