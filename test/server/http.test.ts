// The HTTP surface over real sockets: enqueue (raw and JSON, single and batch), results with long-poll,
// health, metrics, and every error answered as JSON with the library's code.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { b64, frames, postBytes, postJson, type RunningServer, smallQueue, startServer } from './server-kit.js';

describe('gpuqueue serve over HTTP', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({
      queues: {
        default: smallQueue(),
        sums: smallQueue({ handler: 'checksum', slotBytes: 1024 }),
        slow: smallQueue({ capacity: 4, handler: { name: 'slow', inner: 'echo', delayUs: 200_000 } }),
        failing: smallQueue({ maxRetries: 1, handler: { name: 'fault', inner: 'echo', failRate: 1 } }),
      },
    });
  });
  after(() => s.close());

  it('enqueues a raw payload and long-polls its result', async () => {
    const res = await postBytes(`${s.url}/queues/default/messages`, Buffer.from('hello'));
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: number };
    assert.ok(Number.isInteger(id) && id > 0);
    const r = await fetch(`${s.url}/queues/default/results/${id}?timeoutMs=5000`);
    assert.equal(r.status, 200);
    const c = (await r.json()) as { id: number; status: string; data: string; attempts: number };
    assert.deepEqual(
      { id: c.id, status: c.status, data: Buffer.from(c.data, 'base64').toString(), attempts: c.attempts },
      {
        id,
        status: 'ok',
        data: 'hello',
        attempts: 1,
      },
    );
  });

  it('reads a result as raw bytes when asked for application/octet-stream, once', async () => {
    const { id } = (await (await postJson(`${s.url}/queues/default/messages`, { payload: b64('raw'), key: 'k1' })).json()) as {
      id: number;
    };
    const r = await fetch(`${s.url}/queues/default/results/${id}`, { headers: { accept: 'application/octet-stream' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-gpuqueue-status'), 'ok');
    assert.equal(Buffer.from(await r.arrayBuffer()).toString(), 'raw');
    const again = await fetch(`${s.url}/queues/default/results/${id}?timeoutMs=0`);
    assert.equal(again.status, 404);
    assert.equal(((await again.json()) as { code: string }).code, 'NOT_FOUND');
  });

  it('enqueues batches as length-prefixed frames and as JSON, ids in order', async () => {
    const payloads = Array.from({ length: 20 }, (_, i) => Buffer.from(`m${i}`));
    const raw = await postBytes(`${s.url}/queues/default/batch`, frames(payloads));
    assert.equal(raw.status, 202);
    const { ids } = (await raw.json()) as { ids: number[] };
    assert.equal(ids.length, 20);
    for (let i = 1; i < ids.length; i++) assert.ok((ids[i] as number) > (ids[i - 1] as number));
    const json = await postJson(`${s.url}/queues/default/batch`, { payloads: payloads.map(b64), keys: payloads.map((_, i) => i % 3) });
    const more = ((await json.json()) as { ids: number[] }).ids;
    for (const [i, id] of [...ids, ...more].entries()) {
      const c = (await (await fetch(`${s.url}/queues/default/results/${id}`)).json()) as { data: string };
      assert.equal(Buffer.from(c.data, 'base64').toString(), `m${i % 20}`);
    }
  });

  it('serves several named queues, each with its own config', async () => {
    const { id } = (await (await postBytes(`${s.url}/queues/sums/messages`, Buffer.alloc(600, 7))).json()) as { id: number };
    const c = (await (await fetch(`${s.url}/queues/sums/results/${id}`)).json()) as { data: string };
    assert.equal(Buffer.from(c.data, 'base64').length, 4, 'checksum gives 4 bytes');
    const list = (await (await fetch(`${s.url}/queues`)).json()) as { name: string; slotBytes: number }[];
    assert.deepEqual(
      list.map((q) => [q.name, q.slotBytes]),
      [
        ['default', 256],
        ['sums', 1024],
        ['slow', 256],
        ['failing', 256],
      ],
    );
    // The same 600 bytes are too large for the default queue.
    assert.equal((await postBytes(`${s.url}/queues/default/messages`, Buffer.alloc(600))).status, 413);
  });

  it('answers bad input with JSON errors carrying the library codes', async () => {
    const cases: [string, Promise<Response>, number, string][] = [
      ['oversize raw body', postBytes(`${s.url}/queues/default/messages`, Buffer.alloc(257)), 413, 'INVALID_ARG'],
      ['oversize JSON payload', postJson(`${s.url}/queues/default/messages`, { payload: b64(Buffer.alloc(300)) }), 413, 'INVALID_ARG'],
      ['body far past the limit', postBytes(`${s.url}/queues/default/messages`, Buffer.alloc(100_000)), 413, 'INVALID_ARG'],
      ['oversize batch frame', postBytes(`${s.url}/queues/default/batch`, frames([Buffer.alloc(300)])), 413, 'INVALID_ARG'],
      ['batch larger than maxBatch', postJson(`${s.url}/queues/default/batch`, { payloads: Array(65).fill('') }), 413, 'INVALID_ARG'],
      ['truncated frame', postBytes(`${s.url}/queues/default/batch`, frames([Buffer.from('abc')]).subarray(0, 6)), 400, 'INVALID_ARG'],
      [
        'wrong content type',
        fetch(`${s.url}/queues/default/messages`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }),
        415,
        'INVALID_ARG',
      ],
      [
        'malformed JSON',
        fetch(`${s.url}/queues/default/messages`, { method: 'POST', body: '{"payload":', headers: { 'content-type': 'application/json' } }),
        400,
        'INVALID_ARG',
      ],
      ['payload not base64', postJson(`${s.url}/queues/default/messages`, { payload: 'not base64!' }), 400, 'INVALID_ARG'],
      ['JSON not an object', postJson(`${s.url}/queues/default/messages`, [1, 2]), 400, 'INVALID_ARG'],
      ['bad key', postJson(`${s.url}/queues/default/messages`, { payload: '', key: { a: 1 } }), 400, 'INVALID_ARG'],
      ['bad timeoutMs', postBytes(`${s.url}/queues/default/messages?timeoutMs=-1`, Buffer.from('x')), 400, 'INVALID_ARG'],
      ['unknown queue', postBytes(`${s.url}/queues/nope/messages`, Buffer.from('x')), 404, 'NOT_FOUND'],
      ['unknown route', fetch(`${s.url}/nothing`), 404, 'NOT_FOUND'],
      ['bad id', fetch(`${s.url}/queues/default/results/abc`), 400, 'INVALID_ARG'],
      ['unknown id', fetch(`${s.url}/queues/default/results/999999?timeoutMs=0`), 404, 'NOT_FOUND'],
    ];
    for (const [what, pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.status, status, what);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/, what);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, code, what);
      assert.ok(body.message.length > 0, what);
    }
  });

  it('refuses with 429 FULL and Retry-After when the queue is full, and 202 NOT_READY while a result is pending', async () => {
    const ids: number[] = [];
    let full: Response | undefined;
    for (let i = 0; i < 20 && !full; i++) {
      const res = await postBytes(`${s.url}/queues/slow/messages`, Buffer.from([i]));
      if (res.status === 202) ids.push(((await res.json()) as { id: number }).id);
      else full = res;
    }
    assert.ok(full, 'a capacity-4 queue with a 200 ms handler fills');
    assert.equal(full.status, 429);
    assert.equal(full.headers.get('retry-after'), '1');
    assert.equal(((await full.json()) as { code: string }).code, 'FULL');
    const last = ids.at(-1) as number;
    const pending = await fetch(`${s.url}/queues/slow/results/${last}?timeoutMs=10`);
    assert.equal(pending.status, 202);
    assert.equal(((await pending.json()) as { code: string }).code, 'NOT_READY');
    // A batch that cannot get in within its wait: 503 TIMEOUT with the ids that did get in.
    const batch = await postBytes(`${s.url}/queues/slow/batch?timeoutMs=50`, frames(Array.from({ length: 4 }, () => Buffer.from('b'))));
    assert.equal(batch.status, 503);
    assert.ok(batch.headers.get('retry-after'));
    const body = (await batch.json()) as { code: string; enqueuedIds?: number[] };
    assert.equal(body.code, 'TIMEOUT');
    // Nothing accepted is lost: every id, including a batch's partial ones, ends as a result.
    for (const id of [...ids, ...(body.enqueuedIds ?? [])]) {
      const r = await fetch(`${s.url}/queues/slow/results/${id}?timeoutMs=10000`);
      assert.equal(r.status, 200, `result of ${id}`);
    }
  });

  it('keeps a result for the next reader when a long-polling client disconnects', async () => {
    const { id } = (await (await postBytes(`${s.url}/queues/slow/messages?timeoutMs=5000`, Buffer.from('x'))).json()) as { id: number };
    const gone = new AbortController();
    const poll = fetch(`${s.url}/queues/slow/results/${id}?timeoutMs=10000`, { signal: gone.signal }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 20));
    gone.abort();
    assert.ok((await poll) instanceof Error);
    const r = await fetch(`${s.url}/queues/slow/results/${id}?timeoutMs=10000`);
    assert.equal(r.status, 200);
  });

  it('ends a message that keeps failing as a dead-letter result, listed by /dead-letters with its payload', async () => {
    const { id } = (await (await postBytes(`${s.url}/queues/failing/messages`, Buffer.from('doomed'))).json()) as { id: number };
    const c = (await (await fetch(`${s.url}/queues/failing/results/${id}?timeoutMs=5000`)).json()) as {
      status: string;
      attempts: number;
      reason: string;
    };
    assert.equal(c.status, 'dead-letter');
    assert.equal(c.attempts, 2);
    assert.ok(c.reason.length > 0);
    const letters = (await (await fetch(`${s.url}/queues/failing/dead-letters`)).json()) as { id: number; payload: string }[];
    assert.deepEqual(
      letters.map((d) => [d.id, Buffer.from(d.payload, 'base64').toString()]),
      [[id, 'doomed']],
    );
    assert.deepEqual(await (await fetch(`${s.url}/queues/failing/dead-letters`)).json(), [], 'taken once');
  });

  it('answers /healthz and /readyz', async () => {
    assert.deepEqual(await (await fetch(`${s.url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${s.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { queues: unknown }).queues, {
      default: 'ready',
      sums: 'ready',
      slow: 'ready',
      failing: 'ready',
    });
  });

  it('answers /readyz 503 while a GPU heartbeat is stale, and exports its age', async () => {
    // The cpu engine has no heartbeat: stand in for a cuda queue whose kernel stopped beating
    // (stats().heartbeatAgeMs, as CudaEngine reports it). The watchdog itself is tested on the GPU.
    const q = s.server.queues.get('default') as NonNullable<ReturnType<typeof s.server.queues.get>>;
    const real = q.stats.bind(q);
    q.stats = () => ({ ...real(), heartbeatAgeMs: 2500 });
    try {
      const ready = await fetch(`${s.url}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { code: string; message: string };
      assert.equal(body.code, 'ENGINE_FAILED');
      assert.match(body.message, /the GPU heartbeat of default is older than 1000 ms/);
      assert.match(
        await (await fetch(`${s.url}/metrics`)).text(),
        /gpuqueue_gpu_heartbeat_age_seconds\{queue="default",engine="cpu"\} 2\.5/,
      );
    } finally {
      q.stats = real;
    }
    assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
  });

  it('exposes Prometheus metrics per queue and engine', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of [
      'gpuqueue_messages_enqueued_total',
      'gpuqueue_messages_completed_total',
      'gpuqueue_messages_retried_total',
      'gpuqueue_messages_dead_lettered_total',
      'gpuqueue_enqueue_rejected_full_total',
      'gpuqueue_queue_depth',
      'gpuqueue_messages_in_flight',
      'gpuqueue_message_latency_seconds_bucket',
    ]) {
      assert.match(text, new RegExp(`^${name}\\{[^}]*queue="default"[^}]*\\}`, 'm'), name);
    }
    assert.match(text, /^gpuqueue_messages_completed_total\{queue="default",engine="cpu"\} [1-9]/m);
    assert.match(text, /^gpuqueue_enqueue_rejected_full_total\{queue="slow",engine="cpu"\} [1-9]/m);
    assert.match(text, /^gpuqueue_http_rejected_total\{queue="default",code="INVALID_ARG"\} [1-9]/m);
  });
});

describe('gpuqueue serve: unread results', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({
      queues: {
        strict: smallQueue({ capacity: 8, retainResults: 8 }),
        loose: smallQueue({ capacity: 8, retainResults: 4, whenResultsFull: 'evict-oldest' }),
      },
    });
  });
  after(() => s.close());

  const enqueueUntilFull = async (queue: string) => {
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await postBytes(`${s.url}/queues/${queue}/messages`, Buffer.from([i]));
      if (res.status !== 202) return { ids, refused: res };
      ids.push(((await res.json()) as { id: number }).id);
      await new Promise((r) => setTimeout(r, 1));
    }
    return { ids, refused: undefined };
  };

  it('backpressure (default): when unread results pile up the queue fills and refuses, and reading frees room', async () => {
    const { ids, refused } = await enqueueUntilFull('strict');
    assert.ok(refused, 'the queue fills once 8 results wait unread');
    assert.equal(refused.status, 429);
    // At most: 8 unread kept by the server, 8 in the queue's own store, 8 in the ring, 8 in a pump pass.
    assert.ok(ids.length >= 8 && ids.length <= 4 * 8, `${ids.length} accepted`);
    for (const id of ids) assert.equal((await fetch(`${s.url}/queues/strict/results/${id}?timeoutMs=5000`)).status, 200, `result ${id}`);
    assert.equal((await postBytes(`${s.url}/queues/strict/messages`, Buffer.from('again'))).status, 202);
  });

  it('evict-oldest: keeps accepting and forgets the oldest unread results, counting them', async () => {
    const { ids: first } = (await (
      await postBytes(`${s.url}/queues/loose/batch?timeoutMs=5000`, frames(Array.from({ length: 8 }, () => Buffer.from('a'))))
    ).json()) as { ids: number[] };
    const last = first.at(-1) as number;
    assert.equal((await fetch(`${s.url}/queues/loose/results/${last}?timeoutMs=5000`)).status, 200);
    assert.equal((await fetch(`${s.url}/queues/loose/results/${first[0]}?timeoutMs=0`)).status, 404);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /^gpuqueue_results_evicted_total\{queue="loose",engine="cpu"\} [1-9]/m);
  });
});
