// Load benchmark of `gpuqueue serve` (cpu engine) beside a bare Fastify route that does no queue work:
// requests/s and latency percentiles for single POSTs (autocannon), msg/s for batch POSTs and for
// WebSocket ingest. Prints one table; writes JSON to bench/results/<date>-serve-cpu.json.
//   npm run build && node bench/serve-load.mjs [--seconds 5] [--connections 16]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { WebSocket } from 'ws';

const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]));
const SECONDS = Number(args.get('--seconds') ?? 5);
const CONNECTIONS = Number(args.get('--connections') ?? 16);
const PAYLOAD_BYTES = 256;
const BATCH = 256;
const WS_MESSAGES = 100_000;
const SERVE = fileURLToPath(new URL('../dist/src/cli/serve.js', import.meta.url));

/** Starts a child that prints `listening on URL`; resolves with the URL and the child. */
function startChild(code, argv) {
  // This same file, in the role of one of the two servers.
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SERVE_LOAD_ROLE: code, SERVE_ARGS: JSON.stringify(argv) },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ url: m[1], child });
    });
    child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
  });
}

if (process.env.SERVE_LOAD_ROLE === 'serve') {
  const { serveCommand } = await import(SERVE);
  await serveCommand().parseAsync(JSON.parse(process.env.SERVE_ARGS), { from: 'user' });
  process.exit(0);
}
if (process.env.SERVE_LOAD_ROLE === 'bare') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_r, body, done) => done(null, body));
  let id = 0;
  app.post('/queues/default/messages', async (_req, reply) => reply.code(202).send({ id: ++id }));
  app.post('/queues/default/batch', async (req, reply) => {
    const ids = [];
    for (let at = 0; at < req.body.length; at += 4 + req.body.readUInt32LE(at)) ids.push(++id);
    return reply.code(202).send({ ids });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(`listening on http://127.0.0.1:${app.server.address().port}`);
  await new Promise(() => {});
}

function frames(n, bytes) {
  const one = Buffer.alloc(4 + bytes, 7);
  one.writeUInt32LE(bytes);
  return Buffer.concat(Array.from({ length: n }, () => one));
}

async function cannon(url, path, body) {
  const r = await autocannon({
    url: `${url}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  return {
    requestsPerSecond: Math.round(r.requests.average),
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
  };
}

async function wsIngest(url) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/queues/default/socket`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const payload = Buffer.alloc(PAYLOAD_BYTES, 3);
  let completed = 0;
  let errors = 0;
  const started = performance.now();
  const done = new Promise((resolve) =>
    ws.on('message', (d) => {
      const s = String(d);
      if (s.startsWith('{"type":"completion"')) completed++;
      else if (s.startsWith('{"type":"error"')) errors++;
      if (completed + errors === WS_MESSAGES) resolve();
    }),
  );
  for (let i = 0; i < WS_MESSAGES; i++) {
    ws.send(payload);
    if (ws.bufferedAmount > 4 << 20) await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  ws.close();
  return {
    messages: WS_MESSAGES,
    completed,
    errors,
    seconds: Math.round(seconds * 100) / 100,
    messagesPerSecond: Math.round(completed / seconds),
  };
}

const results = {};
// On a 2-core machine a spinning consumer takes a core from the server and the load generator: the
// default here is no spinning (--spin keeps the library's defaults).
const SPIN = process.argv.includes('--spin');
const configFile = join(tmpdir(), `gpuqueue-serve-load-${process.pid}.json`);
writeFileSync(configFile, JSON.stringify({ queues: { default: SPIN ? {} : { consumerSpinUs: 0, pollSpinUs: 0 } } }));
const serve = await startChild('serve', [
  '--config',
  configFile,
  '--port',
  '0',
  '--engine',
  'cpu',
  '--workers',
  '1',
  '--capacity',
  '4096',
  '--slot-bytes',
  String(PAYLOAD_BYTES),
  '--handler',
  'checksum',
  '--when-results-full',
  'evict-oldest',
  '--drain-timeout-ms',
  '1000',
]);
const bare = await startChild('bare', []);
const single = Buffer.alloc(PAYLOAD_BYTES, 1);
const batch = frames(BATCH, PAYLOAD_BYTES);
try {
  for (const [name, { url }] of [
    ['bare fastify', bare],
    ['gpuqueue serve', serve],
  ]) {
    const one = await cannon(url, '/queues/default/messages', single);
    const many = await cannon(url, '/queues/default/batch', batch);
    results[name] = {
      singlePost: one,
      batchPost: { ...many, batch: BATCH, messagesPerSecond: Math.round((many.ok2xx / SECONDS) * BATCH) },
      ...(name === 'gpuqueue serve' ? { websocketIngest: await wsIngest(url) } : {}),
    };
  }
} finally {
  serve.child.kill('SIGTERM');
  bare.child.kill('SIGTERM');
}

const row = (label, f) =>
  `${label.padEnd(34)}${Object.keys(results)
    .map((k) => String(f(results[k]) ?? 'n/a').padStart(18))
    .join('')}`;
console.log(
  `${''.padEnd(34)}${Object.keys(results)
    .map((k) => k.padStart(18))
    .join('')}`,
);
console.log(row('single POST req/s', (r) => r.singlePost.requestsPerSecond));
console.log(row('single POST p50 / p99 ms', (r) => `${r.singlePost.latencyMs.p50} / ${r.singlePost.latencyMs.p99}`));
console.log(row('single POST non-2xx', (r) => r.singlePost.non2xx));
console.log(row(`batch POST (${BATCH}) msg/s`, (r) => r.batchPost.messagesPerSecond));
console.log(row('batch POST p50 / p99 ms', (r) => `${r.batchPost.latencyMs.p50} / ${r.batchPost.latencyMs.p99}`));
console.log(row('batch POST non-2xx', (r) => r.batchPost.non2xx));
console.log(row('WebSocket ingest msg/s (to completion)', (r) => r.websocketIngest?.messagesPerSecond));

const record = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), loadavg: loadavg() },
  node: process.version,
  versions: {
    fastify: (await import('fastify/package.json', { with: { type: 'json' } })).default.version,
    autocannon: (await import('autocannon/package.json', { with: { type: 'json' } })).default.version,
  },
  config: {
    engine: 'cpu',
    workers: 1,
    capacity: 4096,
    slotBytes: PAYLOAD_BYTES,
    handler: 'checksum',
    payloadBytes: PAYLOAD_BYTES,
    batch: BATCH,
    seconds: SECONDS,
    connections: CONNECTIONS,
    wsMessages: WS_MESSAGES,
  },
  results,
};
const out = fileURLToPath(new URL(`results/${record.date.slice(0, 10)}-serve-cpu.json`, import.meta.url));
writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(`wrote ${out}`);
