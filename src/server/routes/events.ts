// Server-Sent Events of one queue's completions and stats, resumable: every event carries its sequence
// number as `id`, and a client that reconnects with Last-Event-ID (or ?lastEventId=) gets what it missed
// from the event log. Each client is only a cursor into that log: a slow reader is not buffered for —
// writing stops when its socket is full and resumes from the cursor on 'drain'.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidArgumentError } from '../../index.js';
import { eventText, type QueueEvent } from '../event-log.js';
import type { ServedQueue } from '../served-queue.js';

const HEARTBEAT_MS = 15_000;
const TYPES = new Set<QueueEvent['type']>(['completion', 'stats']);

/** Open event streams, so shutdown can end them. */
export type StreamSet = Set<() => void>;

function parseTypes(text: string | undefined): Set<QueueEvent['type']> {
  if (text === undefined || text === '') return TYPES;
  const types = new Set(text.split(','));
  for (const t of types)
    if (!TYPES.has(t as QueueEvent['type']))
      throw new InvalidArgumentError(`types must be a comma-separated list of completion, stats; got ${JSON.stringify(text)}`);
  return types as Set<QueueEvent['type']>;
}

function parseLastEventId(request: FastifyRequest): number | undefined {
  const text = (request.headers['last-event-id'] as string | undefined) ?? (request.query as Record<string, string>).lastEventId;
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`Last-Event-ID must be an event id; got ${JSON.stringify(text)}`);
  return n;
}

export function registerEventRoutes(app: FastifyInstance, q: ServedQueue, base: string, streams: StreamSet): void {
  app.get(`${base}/events`, async (request, reply) => {
    const types = parseTypes((request.query as Record<string, string>).types);
    const last = parseLastEventId(request);
    let cursor = last ?? q.events.lastSeq;
    const res = reply.raw;
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    let blocked = false;
    let closed = false;
    const flush = () => {
      while (!blocked && !closed) {
        const { events, gap } = q.events.after(cursor, 256);
        if (gap) res.write(`event: gap\ndata: ${JSON.stringify({ from: cursor + 1, to: q.events.firstSeq - 1 })}\n\n`);
        if (events.length === 0) return;
        let text = '';
        for (const e of events) if (types.has(e.type)) text += `id: ${e.seq}\nevent: ${e.type}\ndata: ${eventText(e)}\n\n`;
        cursor = (events.at(-1) as QueueEvent).seq;
        if (text !== '' && !res.write(text)) blocked = true;
      }
    };
    const onDrain = () => {
      blocked = false;
      flush();
    };
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const unsubscribe = q.events.subscribe(flush);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(end);
      res.off('drain', onDrain);
    };
    const end = () => {
      flush();
      close();
      res.end();
    };
    streams.add(end);
    res.on('drain', onDrain);
    res.on('close', close);
    flush();
  });
}
