// Worker-thread entry of the webgpu engine: attach to the ring, run a DeviceEngine here (Dawn works in a
// worker thread, and there the batch copies in and out of the ring stay off the owner's event loop), and
// report to the host in webgpu-engine.ts. Messages: host → 'stop'; worker → ready, start-failed, fault,
// stopped. Nothing is posted per message or per batch.
import { parentPort, workerData } from 'node:worker_threads';
import type { GpuQueueError } from '../../core/errors.js';
import type { QueueConfig } from '../../core/options.js';
import { SlotRing } from '../../core/slot-ring.js';
import type { HandlerSpec } from '../../handlers/handler.js';
import { DeviceEngine, type DeviceEngineOptions } from './device-engine.js';

export interface WebGpuWorkerData {
  sab: SharedArrayBuffer;
  handler: HandlerSpec;
  config: QueueConfig;
  options: DeviceEngineOptions;
}

export type WebGpuWorkerMessage =
  | { type: 'ready'; describe: string }
  | { type: 'start-failed'; name: string; code: string | undefined; message: string }
  | { type: 'fault'; message: string }
  | { type: 'stopped'; counts: { batches: number; messages: number; largestBatch: number } };

const data = workerData as WebGpuWorkerData;
const port = parentPort;
if (!port) throw new Error('webgpu-worker.ts runs as a worker thread');
const post = (message: WebGpuWorkerMessage) => port.postMessage(message);

const engine = new DeviceEngine(
  {
    ring: SlotRing.attach(data.sab),
    handler: data.handler,
    config: data.config,
    onFault: (error) => post({ type: 'fault', message: error.message }),
  },
  data.options,
);
port.on('message', async (message) => {
  if (message !== 'stop') return;
  await engine.stop();
  post({ type: 'stopped', counts: engine.batchCounts() });
});
try {
  await engine.start();
  post({ type: 'ready', describe: engine.describe() });
} catch (error) {
  const e = error as GpuQueueError;
  post({ type: 'start-failed', name: e.name, code: e.code, message: e.message });
}
