// One WebSocket per producer: it enqueues and receives, on the same connection, what became of each
// message. Two modes, chosen by `?mode=` when connecting (docs/server.md):
// - `single` (default): a binary frame is one payload, a text frame `{ "payload": base64, "key"?, "ref"? }`;
//   the server answers an `accepted` frame with each id and a JSON `completion` frame per message.
// - `batch`: a binary frame is a batch in the POST …/batch format (length-prefixed frames), a text frame
//   `{ "payloads": [base64…], "keys"?, "ref"? }`; the server answers one `accepted` frame per batch
//   (`firstId`, `count`: the ids are consecutive) and sends completions as binary records, many per frame
//   (batch-wire.ts) — the path for high rates, with no per-message frame, JSON or promise.
// Backpressure: frames wait in a small inbox; when it is full (the queue is full and enqueue waits for
// space) or the client reads its completions too slowly, the server stops reading the socket, so TCP
// pushes back on the client — nothing grows unbounded.

import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { batchCount } from '../../core/batch-payloads.js';
import { type BatchPayloads, type Completion, InvalidArgumentError, type MessageKey } from '../../index.js';
import { CompletionRecords, splitFrames } from '../batch-wire.js';
import { toHttpError } from '../http-errors.js';
import type { ServerMetrics } from '../metrics.js';
import { type CompletionSink, completionJson, type ServedQueue } from '../served-queue.js';
import { endSpan, startEnqueueSpan } from '../tracing.js';
import { parseJsonBatch } from './messages.js';

/** Frames read but not yet enqueued, at most. */
export const INBOX_HIGH_WATER = 64;
const INBOX_LOW_WATER = 16;
/** Bytes of frames read but not yet enqueued, at most (batch frames are large). */
const INBOX_HIGH_WATER_BYTES = 8 << 20;
const INBOX_LOW_WATER_BYTES = 2 << 20;
/** Bytes queued for the client before ingest pauses. */
const OUT_HIGH_WATER = 1 << 20;
const OUT_LOW_WATER = 1 << 18;
/** How long a frame waits for space in a full queue before the client gets TIMEOUT for it. */
const ENQUEUE_WAIT_MS = 30_000;

export type SocketSet = Set<WebSocket>;

interface Frame {
  payload: Uint8Array;
  key: MessageKey | undefined;
  ref: unknown;
}

function parseFrame(data: Buffer, isBinary: boolean, q: ServedQueue): Frame {
  if (isBinary) return { payload: data, key: undefined, ref: undefined };
  let msg: { payload?: unknown; key?: unknown; ref?: unknown };
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch {
    throw new InvalidArgumentError('a text frame must be JSON: { "payload": base64, "key"?: string | number, "ref"?: any }');
  }
  if (typeof msg?.payload !== 'string') throw new InvalidArgumentError('payload must be a base64 string');
  const key = msg.key;
  if (key !== undefined && typeof key !== 'string' && typeof key !== 'number')
    throw new InvalidArgumentError('key must be a string or a number');
  const payload = Buffer.from(msg.payload, 'base64');
  if (payload.length > q.slotBytes)
    throw new InvalidArgumentError(`the payload is ${payload.length} bytes; queue ${q.name} takes at most ${q.slotBytes}`);
  return { payload, key: key as MessageKey | undefined, ref: msg.ref };
}

interface BatchFrame {
  payloads: BatchPayloads;
  keys: MessageKey[] | undefined;
  ref: unknown;
}

/** `ref` is set as soon as it is known, so an error about the rest of the frame can still carry it. */
function parseBatchFrame(data: Buffer, isBinary: boolean, q: ServedQueue, frame: Partial<BatchFrame>): BatchFrame {
  if (isBinary) return { payloads: splitFrames(data, q), keys: undefined, ref: undefined };
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch {
    throw new InvalidArgumentError('a text frame must be JSON: { "payloads": [base64…], "keys"?: […], "ref"?: any }');
  }
  frame.ref = (msg as { ref?: unknown } | null)?.ref;
  return { ...parseJsonBatch(q, msg), ref: frame.ref };
}

const MODES = ['single', 'batch'] as const;

export function registerSocketRoute(app: FastifyInstance, q: ServedQueue, base: string, sockets: SocketSet, metrics: ServerMetrics): void {
  const preValidation = async (request: { query: unknown }) => {
    const mode = (request.query as { mode?: string }).mode;
    if (mode !== undefined && !(MODES as readonly string[]).includes(mode))
      throw new InvalidArgumentError(`mode must be single or batch; got ${JSON.stringify(mode)}`);
  };
  app.get(`${base}/socket`, { websocket: true, preValidation }, (ws: WebSocket, request) => {
    sockets.add(ws);
    const batchMode = (request.query as { mode?: string }).mode === 'batch';
    const inbox: Buffer[] = [];
    const binary: boolean[] = [];
    let inboxBytes = 0;
    let working = false;
    let paused = false;

    // Frames go out in bursts (a pump pass, a run of accepted ids): cork the TCP socket for the rest of
    // the tick so a burst is one write, not one syscall per frame.
    const raw = (ws as unknown as { _socket?: Socket })._socket;
    let corked = false;
    const send = (text: string) => {
      if (raw && !corked) {
        corked = true;
        raw.cork();
        process.nextTick(() => {
          corked = false;
          raw.uncork();
        });
      }
      ws.send(text);
    };
    const sink: CompletionSink = (c) => {
      if (ws.readyState !== ws.OPEN) return false;
      send(JSON.stringify({ type: 'completion', ...completionJson(c) }));
      return true;
    };
    // Batch mode: completions are written as records and sent as one binary frame per pump pass.
    const records = new CompletionRecords();
    // The completions written into `records` and not sent yet: kept for GET …/results/:id if the
    // socket closes before the flush (at the end of this tick).
    let unsent: Completion[] = [];
    let flushing = false;
    const flushRecords = () => {
      flushing = false;
      const cs = unsent;
      unsent = [];
      if (records.count === 0) return;
      const frame = records.take();
      if (ws.readyState !== ws.OPEN) {
        q.keep(cs);
        return;
      }
      if (raw) raw.cork();
      ws.send(frame, { binary: true });
      if (raw) process.nextTick(() => raw.uncork());
      pauseIfNeeded();
    };
    const recordSink: CompletionSink = (c) => {
      if (ws.readyState !== ws.OPEN) return false;
      records.add(c);
      unsent.push(c);
      if (!flushing) {
        flushing = true;
        process.nextTick(flushRecords);
      }
      return true;
    };
    const pauseIfNeeded = () => {
      if (!paused && (inbox.length >= INBOX_HIGH_WATER || inboxBytes > INBOX_HIGH_WATER_BYTES || ws.bufferedAmount > OUT_HIGH_WATER)) {
        paused = true;
        ws.pause();
        waitForRoom();
      }
    };
    const waitForRoom = () => {
      if (ws.readyState !== ws.OPEN) return;
      if (inbox.length <= INBOX_LOW_WATER && inboxBytes <= INBOX_LOW_WATER_BYTES && ws.bufferedAmount <= OUT_LOW_WATER) {
        paused = false;
        ws.resume();
      } else setTimeout(waitForRoom, 5).unref();
    };
    const sendError = (error: unknown, ref: unknown) => {
      const { body } = toHttpError(error);
      metrics.httpRejected.inc({ queue: q.name, code: body.code });
      if (ws.readyState === ws.OPEN) send(JSON.stringify({ type: 'error', ...body, ...(ref === undefined ? {} : { ref }) }));
    };
    const enqueueBatchFrame = async (data: Buffer, isBinary: boolean) => {
      const known: Partial<BatchFrame> = {};
      try {
        const frame = parseBatchFrame(data, isBinary, q, known);
        const span = startEnqueueSpan(q.name, batchCount(frame.payloads), 'websocket');
        try {
          const ids = await q.enqueueBatch(frame.payloads, frame.keys, ENQUEUE_WAIT_MS, span, recordSink);
          endSpan(span);
          if (ws.readyState === ws.OPEN)
            send(
              JSON.stringify({
                type: 'accepted',
                ...(ids.length > 0 ? { firstId: ids[0] } : {}),
                count: ids.length,
                ...(frame.ref === undefined ? {} : { ref: frame.ref }),
              }),
            );
        } catch (error) {
          endSpan(span, error);
          throw error;
        }
      } catch (error) {
        sendError(error, known.ref);
      }
    };
    const work = async () => {
      working = true;
      while (inbox.length > 0 && ws.readyState === ws.OPEN) {
        const data = inbox.shift() as Buffer;
        const isBinary = binary.shift() as boolean;
        inboxBytes -= data.length;
        if (batchMode) {
          await enqueueBatchFrame(data, isBinary);
          pauseIfNeeded();
          continue;
        }
        let frame: Frame | undefined;
        try {
          frame = parseFrame(data, isBinary, q);
          const span = startEnqueueSpan(q.name, 1, 'websocket');
          try {
            const id = await q.enqueue(frame.payload, frame.key, ENQUEUE_WAIT_MS, span, sink);
            endSpan(span, undefined, { 'messaging.message.id': String(id) });
            // The accepted frame is sent before the completion can be (the pump runs on a later turn).
            if (ws.readyState === ws.OPEN)
              ws.send(JSON.stringify({ type: 'accepted', id, ...(frame.ref === undefined ? {} : { ref: frame.ref }) }));
          } catch (error) {
            endSpan(span, error);
            throw error;
          }
        } catch (error) {
          sendError(error, frame?.ref);
        }
        pauseIfNeeded();
      }
      working = false;
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      inbox.push(data);
      binary.push(isBinary);
      inboxBytes += data.length;
      pauseIfNeeded();
      if (!working) void work();
    });
    ws.on('close', () => {
      sockets.delete(ws);
      inbox.length = 0;
      inboxBytes = 0;
    });
    ws.on('error', () => {});
  });
}
