// Bearer-token auth (required off loopback, checked on every route but the probes and the static page)
// and the serve configuration: file formats, flags over the file, and the refusals with their reasons.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { serveOptionsFrom } from '../../src/cli/serve.js';
import { GpuQueueServer } from '../../src/server/app.js';
import { isLoopback, resolveServeOptions } from '../../src/server/config.js';
import { auth, postBytes, type RunningServer, startServer, TOKEN } from './server-kit.js';

describe('gpuqueue serve: auth', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ token: TOKEN });
  });
  after(() => s.close());

  it('answers 401 UNAUTHORIZED without a token or with a wrong one', async () => {
    for (const headers of [{}, auth('wrong'), auth(`${TOKEN}x`), { authorization: `Basic ${TOKEN}` }]) {
      const res = await postBytes(`${s.url}/queues/default/messages`, Buffer.from('x'), headers);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="gpuqueue"');
      assert.equal(((await res.json()) as { code: string }).code, 'UNAUTHORIZED');
    }
    for (const path of ['/metrics', '/queues', '/queues/default/events', '/queues/default/results/1', '/queues/nope/messages']) {
      assert.equal((await fetch(`${s.url}${path}`)).status, 401, path);
    }
  });

  it('accepts the token as a bearer header, or as access_token for browsers (EventSource, WebSocket)', async () => {
    assert.equal((await postBytes(`${s.url}/queues/default/messages`, Buffer.from('x'), auth())).status, 202);
    assert.equal((await fetch(`${s.url}/queues?access_token=${TOKEN}`)).status, 200);
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/queues/default/socket?access_token=${TOKEN}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
    const denied = new WebSocket(`${s.url.replace('http', 'ws')}/queues/default/socket`);
    const status = await new Promise((resolve) => denied.once('unexpected-response', (_req, res) => resolve(res.statusCode)));
    assert.equal(status, 401);
  });

  it('leaves the probes and the dashboard page open', async () => {
    for (const path of ['/healthz', '/readyz', '/dashboard/', '/dashboard/uPlot.iife.min.js']) {
      assert.equal((await fetch(`${s.url}${path}`)).status, 200, path);
    }
  });
});

describe('gpuqueue serve: configuration', () => {
  it('refuses to listen off loopback without a token, naming the fix', () => {
    assert.throws(() => resolveServeOptions({ host: '0.0.0.0' }), {
      code: 'INVALID_ARG',
      message: /refusing to listen on 0\.0\.0\.0 without a token/,
    });
    assert.throws(() => resolveServeOptions({ host: '::' }), { code: 'INVALID_ARG' });
    assert.doesNotThrow(() => resolveServeOptions({ host: '0.0.0.0', token: TOKEN }));
    assert.equal(isLoopback('127.0.0.1'), true);
    assert.equal(isLoopback('::1'), true);
    assert.equal(isLoopback('localhost'), true);
    assert.equal(isLoopback('10.0.0.1'), false);
  });

  it('does not start a server that would be open to the network', async () => {
    await assert.rejects(GpuQueueServer.create({ host: '0.0.0.0', port: 0 }), { code: 'INVALID_ARG' });
  });

  it('rejects short tokens, unknown options, bad queue names and bad queue options', () => {
    assert.throws(() => resolveServeOptions({ token: 'short' }), /at least 16 characters/);
    assert.throws(() => resolveServeOptions({ prot: 1 } as never), /unknown serve option prot/);
    assert.throws(() => resolveServeOptions({ queues: { 'a/b': {} } }), /queue name "a\/b"/);
    assert.throws(() => resolveServeOptions({ queues: { a: { whenResultsFull: 'drop' as never } } }), /whenResultsFull/);
    assert.throws(() => resolveServeOptions({ port: 70000 }), /port must be an integer from 0 to 65535/);
  });

  it('reads JSON and YAML config files, with flags over the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuqueue-serve-'));
    writeFileSync(join(dir, 'c.yaml'), 'port: 9000\nqueues:\n  a:\n    capacity: 128\n  b:\n    handler: checksum\n');
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ host: '127.0.0.2', queues: { j: { slotBytes: 64 } } }));
    const yaml = serveOptionsFrom({ config: join(dir, 'c.yaml'), queue: [], engine: 'cpu', port: '0' }, {});
    assert.equal(yaml.port, 0);
    assert.deepEqual(yaml.queues, { a: { capacity: 128, backend: 'cpu' }, b: { handler: 'checksum', backend: 'cpu' } });
    const json = serveOptionsFrom(
      { config: join(dir, 'c.json'), queue: ['extra'], handler: '{"name":"fault","inner":"echo"}' },
      { GPUQUEUE_TOKEN: TOKEN },
    );
    assert.equal(json.token, TOKEN);
    assert.deepEqual(Object.keys(json.queues ?? {}), ['j', 'extra']);
    assert.deepEqual(json.queues?.extra?.handler, { name: 'fault', inner: 'echo' });
    assert.deepEqual(serveOptionsFrom({ queue: [] }, {}).queues, { default: {} });
  });

  it('fails to start on a bad queue option with the library error', async () => {
    await assert.rejects(GpuQueueServer.create({ port: 0, queues: { a: { backend: 'cpu', capacity: 3 } } }), { code: 'INVALID_ARG' });
  });
});
