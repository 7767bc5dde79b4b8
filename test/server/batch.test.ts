// The batch paths of `gpuqueue serve` over real sockets: binary batches over HTTP and over a batch-mode
// WebSocket (length-prefixed frames in, binary completion records out), their malformed and oversize
// frames, and that every message accepted ends as a result or a dead letter, also when a batch has to
// wait for space and its first messages complete before it is accepted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { readCompletionRecords } from '../../src/server/batch-wire.js';
import { b64, frames, postBytes, type RunningServer, smallQueue, startServer } from './server-kit.js';

interface TextFrame {
  type: string;
  firstId?: number;
  count?: number;
  ref?: unknown;
  code?: string;
  message?: string;
}

/** A batch-mode WebSocket that collects text frames and completion records. */
async function batchSocket(url: string, queue: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/queues/${queue}/socket?mode=batch`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const text: TextFrame[] = [];
  const completions: ReturnType<typeof readCompletionRecords> = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) completions.push(...readCompletionRecords(data));
    else text.push(JSON.parse(String(data)));
    for (const l of listeners) l();
  });
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!done()) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
    });
  return { ws, text, completions, until };
}

describe('gpuqueue serve: batches', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({
      queues: {
        default: smallQueue({ capacity: 64, maxBatch: 1000 }),
        slow: smallQueue({ capacity: 8, maxBatch: 1000, retainResults: 1000, handler: { name: 'slow', inner: 'echo', delayUs: 300 } }),
        failing: smallQueue({ maxRetries: 0, maxBatch: 100, handler: { name: 'fault', inner: 'echo', failRate: 0.5 } }),
        stuck: smallQueue({ capacity: 4, handler: { name: 'slow', inner: 'echo', delayUs: 50_000 } }),
      },
    });
  });
  after(() => s.close());

  it('accepts a binary batch larger than the queue, waiting for space, and every message completes once', async () => {
    const payloads = Array.from({ length: 600 }, (_, i) => Buffer.from(`m${i}`));
    const res = await postBytes(`${s.url}/queues/slow/batch?timeoutMs=20000`, frames(payloads));
    assert.equal(res.status, 202);
    const { ids } = (await res.json()) as { ids: number[] };
    assert.equal(ids.length, 600);
    assert.ok(
      ids.every((id, i) => i === 0 || id === (ids[i - 1] as number) + 1),
      'consecutive',
    );
    // Most of the batch completed before the POST was answered: each result is still there, once.
    for (const [i, id] of ids.entries()) {
      const r = await fetch(`${s.url}/queues/slow/results/${id}?timeoutMs=5000`);
      assert.equal(r.status, 200, `message ${id}`);
      assert.equal(Buffer.from(((await r.json()) as { data: string }).data, 'base64').toString(), `m${i}`);
    }
    const stats = (await (await fetch(`${s.url}/queues/slow/stats`)).json()) as { inFlight: number };
    assert.equal(stats.inFlight, 0);
  });

  it('refuses malformed and oversize binary batches with the library code', async () => {
    const cases: [string, Buffer, number][] = [
      ['a header cut short', Buffer.from([5, 0]), 400],
      ['a frame longer than the body', Buffer.concat([frames([Buffer.from('abc')]), Buffer.from([9, 0, 0, 0, 1])]), 400],
      ['a payload over slotBytes', frames([Buffer.from('ok'), Buffer.alloc(257)]), 413],
      ['more frames than maxBatch', frames(Array.from({ length: 1001 }, () => Buffer.alloc(1))), 413],
    ];
    for (const [what, body, status] of cases) {
      const res = await postBytes(`${s.url}/queues/default/batch`, body);
      assert.equal(res.status, status, what);
      assert.equal(((await res.json()) as { code: string }).code, 'INVALID_ARG', what);
    }
    const stats = (await (await fetch(`${s.url}/queues/default/stats`)).json()) as { enqueued: number };
    assert.equal(stats.enqueued, 0, 'a refused batch enqueues nothing');
  });

  it('answers a batch that runs out of time part way with the ids that got in; those complete, the rest are unknown', async () => {
    const payloads = Array.from({ length: 200 }, (_, i) => Buffer.from([i]));
    const res = await postBytes(`${s.url}/queues/slow/batch?timeoutMs=5`, frames(payloads));
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
    const body = (await res.json()) as { code: string; enqueuedIds: number[] };
    assert.equal(body.code, 'TIMEOUT');
    assert.ok(body.enqueuedIds.length > 0 && body.enqueuedIds.length < 200, `${body.enqueuedIds.length} got in`);
    for (const id of body.enqueuedIds) assert.equal((await fetch(`${s.url}/queues/slow/results/${id}?timeoutMs=5000`)).status, 200);
    const last = body.enqueuedIds.at(-1) as number;
    const never = await fetch(`${s.url}/queues/slow/results/${last + 1}?timeoutMs=100`);
    assert.equal(never.status, 404);
    const stats = (await (await fetch(`${s.url}/queues/slow/stats`)).json()) as { inFlight: number };
    assert.equal(stats.inFlight, 0);
  });

  it('takes batches over a batch-mode WebSocket and sends completions as binary records', async () => {
    const c = await batchSocket(s.url, 'default');
    const payloads = Array.from({ length: 300 }, (_, i) => Buffer.from(`w${i}`));
    c.ws.send(frames(payloads));
    c.ws.send(JSON.stringify({ payloads: ['YQ==', 'Yg=='], keys: ['k', 'k'], ref: 'json' }));
    await c.until(() => c.completions.length === 302 && c.text.length === 2);
    c.ws.close();
    const [binary, json] = c.text;
    assert.equal(binary?.type, 'accepted');
    assert.equal(binary?.count, 300);
    assert.deepEqual([json?.type, json?.count, json?.ref], ['accepted', 2, 'json']);
    const byId = new Map(c.completions.map((r) => [r.id, r]));
    assert.equal(byId.size, 302, 'each message completed once');
    for (let i = 0; i < 300; i++) {
      const r = byId.get((binary?.firstId as number) + i);
      assert.equal(r?.status, 'ok');
      assert.equal(r?.attempts, 1);
      assert.equal(r?.data.toString(), `w${i}`);
    }
    assert.deepEqual(
      [0, 1].map((i) => byId.get((json?.firstId as number) + i)?.data.toString()),
      ['a', 'b'],
    );
  });

  it('answers bad batch frames on a WebSocket with error frames and keeps the connection', async () => {
    const c = await batchSocket(s.url, 'default');
    c.ws.send(Buffer.from([5, 0])); // header cut short
    c.ws.send(frames([Buffer.alloc(257)])); // over slotBytes
    c.ws.send(frames(Array.from({ length: 1001 }, () => Buffer.alloc(1)))); // over maxBatch
    c.ws.send('{"payloads": "nope", "ref": 7}');
    c.ws.send('not json');
    c.ws.send(frames([Buffer.from('still here')]));
    await c.until(() => c.completions.length === 1);
    c.ws.close();
    const errors = c.text.filter((f) => f.type === 'error');
    assert.deepEqual(
      errors.map((f) => f.code),
      Array(5).fill('INVALID_ARG'),
    );
    assert.match(errors[1]?.message as string, /257 bytes/);
    assert.match(errors[2]?.message as string, /at most 1000 messages/);
    assert.equal(errors[3]?.ref, 7);
    assert.equal(c.completions[0]?.data.toString(), 'still here');
  });

  it('keeps the results of a batch-mode WebSocket that closed before its messages completed, for GET', async () => {
    const c = await batchSocket(s.url, 'stuck');
    c.ws.send(frames([1, 2, 3, 4].map((i) => Buffer.from([i]))));
    await c.until(() => c.text.length === 1);
    c.ws.terminate();
    const { firstId, count } = c.text[0] as TextFrame;
    assert.equal(count, 4);
    for (let id = firstId as number; id < (firstId as number) + 4; id++) {
      const r = await fetch(`${s.url}/queues/stuck/results/${id}?timeoutMs=10000`);
      assert.equal(r.status, 200, `result ${id}`);
    }
  });

  it('refuses an unknown WebSocket mode before the upgrade', async () => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/queues/default/socket?mode=bulk`);
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve(undefined));
      ws.once('error', () => {});
    });
    ws.terminate();
    assert.equal(status, 400);
  });

  it('loses nothing through a batch-mode WebSocket into a small slow queue, dead letters included', async () => {
    const slow = await batchSocket(s.url, 'slow');
    const total = 3000;
    const batch = frames(Array.from({ length: 100 }, (_, i) => Buffer.from([i])));
    for (let i = 0; i < total / 100; i++) slow.ws.send(batch);
    await slow.until(() => slow.completions.length >= total);
    slow.ws.close();
    const accepted = slow.text.filter((f) => f.type === 'accepted');
    assert.equal(
      accepted.reduce((n, f) => n + (f.count as number), 0),
      total,
    );
    assert.equal(new Set(slow.completions.map((r) => r.id)).size, total);
    assert.equal(slow.completions.length, total);

    const failing = await batchSocket(s.url, 'failing');
    failing.ws.send(frames(Array.from({ length: 100 }, (_, i) => Buffer.from([i]))));
    await failing.until(() => failing.completions.length === 100);
    failing.ws.close();
    const dead = failing.completions.filter((r) => r.status === 'dead-letter');
    assert.ok(dead.length > 10 && dead.length < 90, `${dead.length} dead letters`);
    assert.ok(dead.every((r) => r.data.length === 0 && r.handlerStatus !== 0));
    assert.equal(failing.completions.filter((r) => r.status === 'ok').length, 100 - dead.length);
  });

  it('takes single POSTs that arrive together in one pass: each is accepted or refused FULL, and the accepted complete', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => postBytes(`${s.url}/queues/stuck/messages`, Buffer.from([i]))));
    const accepted: number[] = [];
    let full = 0;
    for (const res of answers) {
      if (res.status === 202) accepted.push(((await res.json()) as { id: number }).id);
      else {
        assert.equal(res.status, 429);
        assert.equal(res.headers.get('retry-after'), '1');
        assert.equal(((await res.json()) as { code: string }).code, 'FULL');
        full++;
      }
    }
    assert.ok(accepted.length >= 4 && full > 0, `${accepted.length} accepted, ${full} full`);
    assert.equal(new Set(accepted).size, accepted.length);
    for (const id of accepted) assert.equal((await fetch(`${s.url}/queues/stuck/results/${id}?timeoutMs=10000`)).status, 200);
  });

  it('counts batch messages in the latency histogram', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const count = /^gpuqueue_message_latency_seconds_count\{queue="slow",engine="cpu"\} (\d+)/m.exec(text);
    assert.ok(count && Number(count[1]) >= 3600, `count ${count?.[1]}`);
    assert.match(text, /^gpuqueue_message_latency_seconds_bucket\{le="\+Inf",queue="slow",engine="cpu"\} \d+/m);
    assert.ok(b64('x'));
  });
});
