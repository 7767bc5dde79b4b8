// Enqueue (one message or a batch) and read results, over plain HTTP. Bodies are application/octet-stream
// (the payload itself; a batch is length-prefixed frames) or JSON with base64 payloads. Limits come from
// the queue's slotBytes, so a payload the queue could never hold is refused with 413 before it is read.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { batchCount } from '../../core/batch-payloads.js';
import { type BatchPayloads, InvalidArgumentError, type MessageKey } from '../../index.js';
import { type BatchLimits, batchTooLarge, payloadTooLarge, splitFrames } from '../batch-wire.js';
import type { ServedQueue } from '../served-queue.js';
import { completionJson } from '../served-queue.js';
import { endSpan, startEnqueueSpan, startResultSpan } from '../tracing.js';

const MAX_WAIT_MS = 120_000;
const DEFAULT_RESULT_WAIT_MS = 30_000;
/** Room in a JSON body for everything but the payloads. */
const JSON_OVERHEAD_BYTES = 1024;
const base64Bytes = (n: number) => Math.ceil(n / 3) * 4;

export const singleBodyLimit = (slotBytes: number) => base64Bytes(slotBytes) + JSON_OVERHEAD_BYTES;
export const batchBodyLimit = (slotBytes: number, maxBatch: number) => maxBatch * (base64Bytes(slotBytes) + 64) + JSON_OVERHEAD_BYTES;

/** A `?timeoutMs=` (or other whole-number) query value. */
export function queryMs(value: unknown, name: string, fallback: number, max = MAX_WAIT_MS): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}; got ${JSON.stringify(value)}`);
  return n;
}

function decodeBase64(text: unknown, what: string): Buffer {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new InvalidArgumentError(`${what} must be a base64 string`);
  }
  return Buffer.from(text, 'base64');
}

function checkKey(key: unknown, what: string): MessageKey | undefined {
  if (key === undefined || key === null) return undefined;
  if (typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key))) return key;
  throw new InvalidArgumentError(`${what} must be a string or a number`);
}

function isJson(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').startsWith('application/json');
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('the JSON body must be an object');
  return body as Record<string, unknown>;
}

/** One message: the raw body, or `{ "payload": base64, "key"?: … }`. */
function parseSingle(q: ServedQueue, request: FastifyRequest): { payload: Uint8Array; key: MessageKey | undefined } {
  const query = request.query as Record<string, string | undefined>;
  if (isJson(request)) {
    const body = objectBody(request.body);
    const payload = decodeBase64(body.payload, 'payload');
    if (payload.length > q.slotBytes) throw payloadTooLarge(q, payload.length, 'the payload');
    return { payload, key: checkKey(body.key ?? query.key, 'key') };
  }
  const payload = request.body;
  if (!Buffer.isBuffer(payload)) throw new InvalidArgumentError('send the payload as application/octet-stream or JSON');
  if (payload.length > q.slotBytes) throw payloadTooLarge(q, payload.length, 'the payload');
  return { payload, key: checkKey(query.key, 'key') };
}

export interface ParsedBatch {
  payloads: BatchPayloads;
  keys: MessageKey[] | undefined;
}

/** A JSON batch: `{ "payloads": [base64…], "keys"?: […] }` (also a batch-mode WebSocket's text frame). */
export function parseJsonBatch(q: BatchLimits, json: unknown): ParsedBatch {
  const body = objectBody(json);
  if (!Array.isArray(body.payloads)) throw new InvalidArgumentError('payloads must be an array of base64 strings');
  if (body.payloads.length > q.maxBatch) throw batchTooLarge(q, body.payloads.length);
  let keys: MessageKey[] | undefined;
  const payloads = body.payloads.map((p, i) => {
    const bytes = decodeBase64(p, `payloads[${i}]`);
    if (bytes.length > q.slotBytes) throw payloadTooLarge(q, bytes.length, `payloads[${i}]`);
    return bytes;
  });
  if (body.keys !== undefined) {
    if (!Array.isArray(body.keys) || body.keys.length !== payloads.length)
      throw new InvalidArgumentError('keys must be an array as long as payloads');
    keys = body.keys.map((k, i) => checkKey(k, `keys[${i}]`) as MessageKey);
  }
  return { payloads, keys };
}

function parseBatch(q: ServedQueue, request: FastifyRequest): ParsedBatch {
  if (isJson(request)) return parseJsonBatch(q, request.body);
  if (!Buffer.isBuffer(request.body))
    throw new InvalidArgumentError('send the batch as length-prefixed application/octet-stream frames or JSON');
  return { payloads: splitFrames(request.body, q), keys: undefined };
}

export function registerMessageRoutes(app: FastifyInstance, q: ServedQueue, base: string): void {
  app.post(`${base}/messages`, { bodyLimit: singleBodyLimit(q.slotBytes) }, async (request, reply) => {
    const { payload, key } = parseSingle(q, request);
    const timeoutMs = queryMs((request.query as Record<string, string>).timeoutMs, 'timeoutMs', 0);
    const span = startEnqueueSpan(q.name, 1, 'http');
    try {
      const id = await (timeoutMs === 0 ? q.enqueueThisTurn(payload, key, span) : q.enqueue(payload, key, timeoutMs, span));
      endSpan(span, undefined, { 'messaging.message.id': String(id) });
      return reply.code(202).send({ id });
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  });

  app.post(`${base}/batch`, { bodyLimit: batchBodyLimit(q.slotBytes, q.maxBatch) }, async (request, reply) => {
    const { payloads, keys } = parseBatch(q, request);
    const timeoutMs = queryMs((request.query as Record<string, string>).timeoutMs, 'timeoutMs', 0);
    const span = startEnqueueSpan(q.name, batchCount(payloads), 'http');
    try {
      const ids = await q.enqueueBatch(payloads, keys, timeoutMs, span);
      endSpan(span);
      return reply.code(202).send({ ids });
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  });

  app.get(`${base}/results/:id`, async (request: FastifyRequest, reply: FastifyReply) => {
    const idText = (request.params as { id: string }).id;
    const id = Number(idText);
    if (!/^\d+$/.test(idText) || !Number.isSafeInteger(id) || id < 1)
      throw new InvalidArgumentError(`id must be a message id (a positive integer); got ${JSON.stringify(idText)}`);
    const timeoutMs = queryMs((request.query as Record<string, string>).timeoutMs, 'timeoutMs', DEFAULT_RESULT_WAIT_MS);
    // A client that goes away stops its wait (the result stays for the next reader).
    const gone = new AbortController();
    reply.raw.on('close', () => gone.abort());
    const span = startResultSpan(q.name, id);
    try {
      const c = await q.takeResult(id, timeoutMs, gone.signal);
      endSpan(span, undefined, { 'gpuqueue.status': c.status });
      if ((request.headers.accept ?? '').includes('application/octet-stream')) {
        return reply
          .header('content-type', 'application/octet-stream')
          .header('x-gpuqueue-status', c.status)
          .header('x-gpuqueue-attempts', String(c.attempts))
          .header('x-gpuqueue-handler-status', String(c.handlerStatus))
          .send(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
      }
      return completionJson(c);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  });

  app.get(`${base}/stats`, async () => ({ name: q.name, inFlight: q.inFlight, ...q.stats() }));

  app.get(`${base}/dead-letters`, async () =>
    q.queue.deadLetters().map((d) => ({ ...d, payload: Buffer.from(d.payload).toString('base64') })),
  );
}
