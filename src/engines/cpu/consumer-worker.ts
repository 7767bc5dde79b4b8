// Worker-thread entry of the cpu engine: attach to the ring, build the handler, tell the owner we are
// ready, then consume until STOP. The only messages posted are 'ready' and a fatal error.
import { parentPort, workerData } from 'node:worker_threads';
import { SlotRing } from '../../core/slot-ring.js';
import type { HandlerSpec } from '../../handlers/handler.js';
import { buildJsHandler } from '../../handlers/registry.js';
import { consumeShards } from './consume-loop.js';

export interface ConsumerWorkerData {
  sab: SharedArrayBuffer;
  shards: number[];
  handler: HandlerSpec;
  spinUs: number;
}

const data = workerData as ConsumerWorkerData;
const ring = SlotRing.attach(data.sab);
const handler = buildJsHandler(data.handler);
parentPort?.postMessage({ type: 'ready' });
consumeShards(ring, data.shards, handler, data.spinUs);
