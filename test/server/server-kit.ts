// Starts a gpuqueue server in this process on a free loopback port (cpu engine, small queues) and gives
// its URL; and small fetch helpers for the tests of test/server/.
import { GpuQueueServer } from '../../src/server/app.js';
import type { ServedQueueOptions, ServeOptions } from '../../src/server/config.js';

export const TOKEN = 'test-token-0123456789abcdef';

export const smallQueue = (extra: ServedQueueOptions = {}): ServedQueueOptions => ({
  backend: 'cpu',
  capacity: 64,
  slotBytes: 256,
  workers: 1,
  handler: 'echo',
  ...extra,
});

export interface RunningServer {
  server: GpuQueueServer;
  url: string;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const server = await GpuQueueServer.create({
    port: 0,
    logLevel: 'silent',
    statsIntervalMs: 100,
    drainTimeoutMs: 2000,
    queues: { default: smallQueue() },
    ...options,
  });
  const { url } = await server.listen();
  return { server, url, close: async () => void (await server.drain()) };
}

export const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

export async function postBytes(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/** Length-prefixed frames, the octet-stream batch body. */
export function frames(payloads: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of payloads) {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(p.length);
    parts.push(header, Buffer.from(p));
  }
  return Buffer.concat(parts);
}

export const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** Reads Server-Sent Events from a fetch response until `stop` returns true or the stream ends. */
export async function readEvents(res: Response, stop: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return events;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf('\n\n');
    while (end >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      end = text.indexOf('\n\n');
      const e: SseEvent = { id: undefined, event: 'message', data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) e.id = line.slice(4);
        else if (line.startsWith('event: ')) e.event = line.slice(7);
        else if (line.startsWith('data: ')) {
          e.data = line.slice(6);
          hasData = true;
        }
      }
      if (hasData) events.push(e);
      if (stop(events)) {
        await reader.cancel();
        return events;
      }
    }
  }
}
