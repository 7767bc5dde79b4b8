// Server-Sent Events (completions and stats, resumable with Last-Event-ID, bounded for slow readers) and
// the WebSocket endpoint (enqueue and completions on one connection, backpressure when the queue is full).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { b64, frames, postBytes, type RunningServer, readEvents, smallQueue, startServer } from './server-kit.js';

interface CompletionFrame {
  type: string;
  id: number;
  data: string;
  ref?: unknown;
  code?: string;
}

describe('gpuqueue serve: events and WebSocket', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({
      eventLogSize: 64,
      queues: {
        default: smallQueue(),
        slow: smallQueue({ capacity: 8, slotBytes: 65536, handler: { name: 'slow', inner: 'checksum', delayUs: 2000 } }),
        slower: smallQueue({ capacity: 8, handler: { name: 'slow', inner: 'echo', delayUs: 100_000 } }),
      },
    });
  });
  after(() => s.close());

  it('streams completions as events numbered for Last-Event-ID, and resumes after a reconnect', async () => {
    const res = await fetch(`${s.url}/queues/default/events?types=completion`);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reading = readEvents(res, (events) => events.length >= 5);
    const { ids } = (await (
      await postBytes(`${s.url}/queues/default/batch`, frames([1, 2, 3, 4, 5].map((i) => Buffer.from([i]))))
    ).json()) as {
      ids: number[];
    };
    const first = await reading;
    assert.deepEqual(
      first.map((e) => [e.event, (JSON.parse(e.data) as { id: number }).id]),
      ids.map((id) => ['completion', id]),
    );
    // Disconnected after event 5: five more complete meanwhile; resuming from the 3rd replays 4 to 10.
    const more = (await (
      await postBytes(`${s.url}/queues/default/batch`, frames([6, 7, 8, 9, 10].map((i) => Buffer.from([i]))))
    ).json()) as {
      ids: number[];
    };
    for (const id of [...ids, ...more.ids]) await fetch(`${s.url}/queues/default/results/${id}`);
    const resumed = await fetch(`${s.url}/queues/default/events?types=completion`, {
      headers: { 'last-event-id': first[2]?.id as string },
    });
    const replay = await readEvents(resumed, (events) => events.length >= 7);
    assert.deepEqual(
      replay.map((e) => (JSON.parse(e.data) as { id: number }).id),
      [...ids.slice(3), ...more.ids],
    );
    assert.ok(replay.every((e, i) => i === 0 || Number(e.id) > Number(replay[i - 1]?.id)));
  });

  it('tells a client that fell off the event log that it missed events (gap)', async () => {
    const batch = frames(Array.from({ length: 60 }, () => Buffer.from('x')));
    for (let i = 0; i < 3; i++) {
      const { ids } = (await (await postBytes(`${s.url}/queues/default/batch`, batch)).json()) as { ids: number[] };
      for (const id of ids) await fetch(`${s.url}/queues/default/results/${id}`);
    }
    const res = await fetch(`${s.url}/queues/default/events`, { headers: { 'last-event-id': '1' } });
    const events = await readEvents(res, (e) => e.length >= 2);
    assert.equal(events[0]?.event, 'gap');
  });

  it('publishes stats events with depth, throughput and latency percentiles', async () => {
    const res = await fetch(`${s.url}/queues/default/events?types=stats`);
    const [e] = await readEvents(res, (events) => events.length >= 1);
    const stats = JSON.parse(e?.data as string) as Record<string, unknown>;
    for (const key of ['name', 'depth', 'inFlight', 'throughput', 'window', 'completed', 'deadLettered', 'latency', 'state'])
      assert.ok(key in stats, key);
    assert.equal(stats.name, 'default');
  });

  it('survives clients that disconnect mid-stream', async () => {
    for (let i = 0; i < 5; i++) {
      const gone = new AbortController();
      const res = await fetch(`${s.url}/queues/default/events`, { signal: gone.signal });
      const reader = (res.body as ReadableStream).getReader();
      await reader.read();
      gone.abort();
    }
    await postBytes(`${s.url}/queues/default/messages`, Buffer.from('after'));
    const res = await fetch(`${s.url}/queues/default/events?types=stats`);
    assert.equal((await readEvents(res, (e) => e.length >= 1)).length, 1);
  });

  it('rejects an unknown event type and a bad Last-Event-ID with 400', async () => {
    assert.equal((await fetch(`${s.url}/queues/default/events?types=nope`)).status, 400);
    assert.equal((await fetch(`${s.url}/queues/default/events`, { headers: { 'last-event-id': 'x' } })).status, 400);
  });

  it('enqueues over a WebSocket and sends accepted and completion frames on the same connection', async () => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/queues/default/socket`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const got: CompletionFrame[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        got.push(JSON.parse(String(data)));
        if (got.filter((f) => f.type === 'completion').length === 2 && got.some((f) => f.type === 'error')) resolve();
      }),
    );
    ws.send(Buffer.from('binary'));
    ws.send(JSON.stringify({ payload: b64('json'), key: 'k', ref: 'r1' }));
    ws.send('{not json');
    await done;
    ws.close();
    const accepted = got.filter((f) => f.type === 'accepted');
    assert.equal(accepted.length, 2);
    assert.equal(accepted[1]?.ref, 'r1');
    const data = got.filter((f) => f.type === 'completion').map((f) => Buffer.from(f.data, 'base64').toString());
    assert.deepEqual(data.sort(), ['binary', 'json']);
    assert.equal(got.find((f) => f.type === 'error')?.code, 'INVALID_ARG');
  });

  it('keeps the results of a WebSocket that closed before its messages completed, for GET', async () => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/queues/slower/socket`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const ids: number[] = [];
    const accepted = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as CompletionFrame;
        if (f.type === 'accepted') ids.push(f.id);
        if (ids.length === 5) resolve();
      }),
    );
    for (let i = 0; i < 5; i++) ws.send(Buffer.from([i]));
    await accepted;
    ws.terminate();
    for (const id of ids) assert.equal((await fetch(`${s.url}/queues/slower/results/${id}?timeoutMs=5000`)).status, 200, `result ${id}`);
  });

  it('stops reading a WebSocket while the queue is full, and loses nothing', async () => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/queues/slow/socket`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const total = 400;
    const completed = new Set<number>();
    let accepted = 0;
    let errors = 0;
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as CompletionFrame;
        if (f.type === 'accepted') accepted++;
        else if (f.type === 'completion') completed.add(f.id);
        else errors++;
        if (completed.size + errors === total) resolve();
      }),
    );
    const payload = Buffer.alloc(60_000, 1);
    let maxBuffered = 0;
    for (let i = 0; i < total; i++) {
      ws.send(payload);
      maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
    }
    const probe = setInterval(() => (maxBuffered = Math.max(maxBuffered, ws.bufferedAmount)), 5);
    await done;
    clearInterval(probe);
    ws.close();
    assert.equal(errors, 0);
    assert.equal(accepted, total);
    assert.equal(completed.size, total);
    // 24 MB sent into a queue of 8 slots: the server stopped reading, so the client had to hold data back.
    assert.ok(maxBuffered > 1_000_000, `the client buffered ${maxBuffered} bytes`);
  });
});
