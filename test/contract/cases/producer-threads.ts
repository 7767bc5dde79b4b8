// Several producer threads: worker threads attach to the queue's ring through producerHandle() and enqueue
// in place; the owner thread collects every completion, and each thread's keys keep their order.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  assertEachIdOnce,
  type CaseRegistrar,
  type ContractEngine,
  collectByPolling,
  readU32,
  withQueue,
} from '../../support/contract-kit.js';
import type { ProducerWorkerData, ProducerWorkerReport } from '../../support/producer-worker.js';

const THREADS = 4;
const PER_THREAD = 3000;
const KEYS_PER_THREAD = 8;
const WORKER_URL = new URL('../../support/producer-worker.js', import.meta.url);

function runProducer(data: ProducerWorkerData): Promise<ProducerWorkerReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: data });
    let report: ProducerWorkerReport | undefined;
    worker.once('message', (m: ProducerWorkerReport) => {
      report = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (report) resolve(report);
      else reject(new Error(`producer thread ${data.thread} exited (code ${code}) without reporting`));
    });
  });
}

export function producerThreadCases(engine: ContractEngine, test: CaseRegistrar): void {
  test(`${THREADS} worker threads enqueue through attachProducer: every message completes once, each key in order`, async () => {
    await withQueue(engine, { capacity: 256, slotBytes: 16, handler: 'echo' }, async (q) => {
      const total = THREADS * PER_THREAD;
      const collected = collectByPolling(q, total);
      const reports = await Promise.all(
        Array.from({ length: THREADS }, (_, thread) =>
          runProducer({ handle: q.producerHandle(), thread, count: PER_THREAD, keysPerThread: KEYS_PER_THREAD }),
        ),
      );
      const completions = await collected;

      const allIds = reports.flatMap((r) => r.ids);
      assert.equal(new Set(allIds).size, total, 'ids handed to different threads are distinct');
      assertEachIdOnce(completions, allIds);
      const messageOf = new Map<number, { thread: number; seq: number }>();
      for (const { thread, ids } of reports) {
        assert.equal(ids.length, PER_THREAD, `thread ${thread} enqueued all its messages`);
        ids.forEach((id, seq) => {
          if (seq > 0) assert.ok(id > (ids[seq - 1] as number), `thread ${thread}: ids increase`);
          messageOf.set(id, { thread, seq });
        });
      }

      const lastSeqOfKey = new Map<string, number>();
      for (const c of completions) {
        assert.equal(c.status, 'ok');
        assert.equal(c.data.length, 12, `echo of message ${c.id}`);
        const [thread, seq, key] = [readU32(c.data, 0), readU32(c.data, 1), readU32(c.data, 2)];
        assert.deepEqual({ thread, seq }, messageOf.get(c.id), `message ${c.id} came back with another message's payload`);
        const keyName = `${thread}/${key}`;
        const last = lastSeqOfKey.get(keyName) ?? -1;
        assert.ok(seq > last, `key ${keyName}: sequence ${seq} completed after ${last}`);
        lastSeqOfKey.set(keyName, seq);
      }
      assert.equal(lastSeqOfKey.size, THREADS * KEYS_PER_THREAD, 'every key of every thread completed');
      assert.equal(q.stats().enqueued, total, 'stats().enqueued counts messages from every thread');
    });
  });
}
