// Load benchmark of `gpuqueue serve` (cpu engine) beside a bare Fastify server that does no queue work (the
// ceiling), each in its own process, driven by the same clients with the same pre-built bodies:
//   - single POSTs (autocannon): requests/s and latency percentiles;
//   - batch POSTs of length-prefixed frames (autocannon, one pre-built body): messages/s;
//   - WebSocket ingest in batch mode (a `ws` client sending pre-built batch frames, a few in flight):
//     messages/s to completion, counted from the binary completion records that come back.
// Every phase also checks that nothing was lost: the messages the client saw accepted must all end as
// results or dead letters (the server's stats, read once it has nothing in flight).
// Prints one table; writes JSON to bench/results/<date>-serve-cpu.json.
//   npm run build && node bench/serve-load.mjs [--seconds 5] [--rounds 3] [--connections 16] [--batch 4096]
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
/** Connections for batch POSTs: each a large body; more messages in flight than the ring holds keep it full. */
const BATCH_CONNECTIONS = Number(args.get('--batch-connections') ?? 8);
const PAYLOAD_BYTES = 256;
const BATCH = Number(args.get('--batch') ?? 4096);
const CAPACITY = Number(args.get('--capacity') ?? 16384);
/** Batch frames a WebSocket client keeps in flight (sent, not yet accepted): more than the ring holds. */
const WS_WINDOW = 8;
const SERVE = fileURLToPath(new URL('../dist/src/cli/serve.js', import.meta.url));
const WAIT_MS = 30_000;
const ROUNDS = Number(args.get('--rounds') ?? 3);
/** `--phases single,batch,ws`: a subset, for development (the JSON is only written for all three). */
const PHASES = new Set((args.get('--phases') ?? 'single,batch,ws').split(','));
const ALL_PHASES = PHASES.size === 3;

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

/** Walks length-prefixed frames (what the bare server does instead of enqueueing). */
function countFrames(body) {
  let n = 0;
  for (let at = 0; at + 4 <= body.length; at += 4 + body.readUInt32LE(at)) n++;
  return n;
}

if (process.env.SERVE_LOAD_ROLE === 'serve') {
  const { serveCommand } = await import(SERVE);
  await serveCommand().parseAsync(JSON.parse(process.env.SERVE_ARGS), { from: 'user' });
  process.exit(0);
}
if (process.env.SERVE_LOAD_ROLE === 'bare') {
  // The ceiling: the same routes and body handling, no queue. The WebSocket answers each batch frame as
  // serve does (an accepted frame, and completion records of the same size: 20 + 4 bytes each).
  const { default: Fastify } = await import('fastify');
  const { default: websocket } = await import('@fastify/websocket');
  const app = Fastify({ bodyLimit: 64 << 20 });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_r, body, done) => done(null, body));
  await app.register(websocket, { options: { maxPayload: 64 << 20 } });
  let id = 0;
  app.post('/queues/default/messages', async (_req, reply) => reply.code(202).send({ id: ++id }));
  app.post('/queues/default/batch', async (req, reply) => {
    const ids = [];
    for (let n = countFrames(req.body); n > 0; n--) ids.push(++id);
    return reply.code(202).send({ ids });
  });
  app.get('/queues/default/socket', { websocket: true }, (ws) => {
    ws.on('message', (data) => {
      const count = countFrames(data);
      const firstId = id + 1;
      id += count;
      ws.send(JSON.stringify({ type: 'accepted', firstId, count }));
      const records = Buffer.alloc(count * 24);
      for (let i = 0; i < count; i++) {
        records.writeUInt32LE(firstId + i, i * 24);
        records.writeUInt32LE(4, i * 24 + 16);
      }
      ws.send(records, { binary: true });
    });
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

async function cannon(url, path, body, connections) {
  const r = await autocannon({
    url: `${url}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
    connections,
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

/** The server's count of messages that ended (results and dead letters), once nothing is in flight. */
async function settled(url, isServe) {
  if (!isServe) return undefined;
  const started = performance.now();
  for (;;) {
    const s = await (await fetch(`${url}/queues/default/stats`)).json();
    if (s.inFlight === 0 && s.depth === 0)
      return { ended: s.completed + s.deadLettered, waitedMs: Math.round(performance.now() - started) };
    if (performance.now() - started > WAIT_MS) throw new Error(`still ${s.inFlight} in flight after ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a phase; for serve, checks that every accepted message ended (results + dead letters). */
async function phase(url, isServe, run) {
  const before = await settled(url, isServe);
  const started = performance.now();
  const r = await run();
  const after = await settled(url, isServe);
  if (!isServe) return r;
  const ended = after.ended - before.ended;
  const seconds = (performance.now() - started) / 1000;
  return {
    ...r,
    accepted: r.accepted,
    ended,
    // Requests still in flight when autocannon stops are enqueued but not counted by it, so `ended` may
    // exceed `accepted` by up to connections × batch; a message lost would make `lost` positive.
    lost: Math.max(0, r.accepted - ended),
    // To completion: everything accepted in the run had ended by `seconds` (the drain after it included).
    endedPerSecond: Math.round(ended / seconds),
  };
}

async function wsIngest(url) {
  // A zero masking key: ws then skips masking (client side) and unmasking (server side) of each 1 MB
  // frame. Fine for a program on a trusted network; browsers always mask.
  const ws = new WebSocket(`${url.replace('http', 'ws')}/queues/default/socket?mode=batch`, { generateMask: (mask) => mask.fill(0) });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const frame = frames(BATCH, PAYLOAD_BYTES);
  let sent = 0;
  let accepted = 0;
  let acceptedFrames = 0;
  let completed = 0;
  let errors = 0;
  let sending = true;
  let wake = () => {};
  ws.on('message', (d, isBinary) => {
    if (isBinary) {
      // Completion records: [u64 id][u8 status][u8][u16 attempts][i32 handlerStatus][u32 length][bytes].
      for (let at = 0; at + 20 <= d.length; at += 20 + d.readUInt32LE(at + 16)) completed++;
    } else {
      const f = JSON.parse(String(d));
      if (f.type === 'accepted') {
        accepted += f.count;
        acceptedFrames++;
      } else errors++;
    }
    wake();
  });
  const started = performance.now();
  const stopAt = started + SECONDS * 1000;
  while (sending) {
    while (sent - acceptedFrames - errors < WS_WINDOW) {
      ws.send(frame);
      sent++;
    }
    await new Promise((r) => (wake = r));
    if (performance.now() >= stopAt) sending = false;
  }
  const acceptedAtStop = accepted;
  const sendSeconds = (performance.now() - started) / 1000;
  while (acceptedFrames + errors < sent || completed < accepted) await new Promise((r) => (wake = r));
  const seconds = (performance.now() - started) / 1000;
  ws.close();
  return {
    frames: sent,
    batch: BATCH,
    accepted,
    completed,
    errorFrames: errors,
    seconds: Math.round(seconds * 100) / 100,
    acceptedPerSecond: Math.round(acceptedAtStop / sendSeconds),
    // What the client saw come back as completion records, from the first send to the last record.
    messagesPerSecond: Math.round(completed / seconds),
  };
}

const results = {};
// On a 2-core machine a spinning consumer takes a core from the server and the load generator: the
// default here is no spinning (--spin keeps the library's defaults).
const SPIN = process.argv.includes('--spin');
const configFile = join(tmpdir(), `gpuqueue-serve-load-${process.pid}.json`);
const queueConfig = { maxBatch: BATCH, ...(SPIN ? {} : { consumerSpinUs: 0, pollSpinUs: 0 }) };
writeFileSync(configFile, JSON.stringify({ queues: { default: queueConfig } }));
const serveArgs = [
  '--config',
  configFile,
  '--port',
  '0',
  '--engine',
  'cpu',
  '--workers',
  '1',
  '--capacity',
  String(CAPACITY),
  '--slot-bytes',
  String(PAYLOAD_BYTES),
  '--handler',
  'checksum',
  '--when-results-full',
  'evict-oldest',
  '--drain-timeout-ms',
  '1000',
];
const loadBefore = loadavg();
const serve = await startChild('serve', serveArgs);
const bare = await startChild('bare', []);
const single = Buffer.alloc(PAYLOAD_BYTES, 1);
const batch = frames(BATCH, PAYLOAD_BYTES);
const servers = [
  ['bare fastify', bare.url, false],
  ['gpuqueue serve', serve.url, true],
];
const PHASE_RUNS = {
  singlePost: ['single', (r) => r.requestsPerSecond],
  batchPost: ['batch', (r) => r.messagesPerSecond],
  websocketIngest: ['ws', (r) => r.messagesPerSecond],
};
const runPhase = (key, url, isServe) => {
  if (key === 'singlePost')
    return phase(url, isServe, async () => {
      const r = await cannon(url, '/queues/default/messages', single, CONNECTIONS);
      return { ...r, accepted: r.ok2xx };
    });
  // Batch POSTs wait for space (?timeoutMs) like a real producer would, instead of taking 503s.
  if (key === 'batchPost')
    return phase(url, isServe, async () => {
      const r = await cannon(url, `/queues/default/batch?timeoutMs=${WAIT_MS}`, batch, BATCH_CONNECTIONS);
      return { ...r, batch: BATCH, accepted: r.ok2xx * BATCH, messagesPerSecond: Math.round((r.ok2xx / SECONDS) * BATCH) };
    });
  return phase(url, isServe, () => wsIngest(url));
};
// Other work on the machine comes and goes: each phase runs ROUNDS times, bare and serve back to back
// (which goes first alternates), and the median run of each is reported, with every run in the JSON.
const runs = Object.fromEntries(servers.map(([name]) => [name, { singlePost: [], batchPost: [], websocketIngest: [] }]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [key, [short]] of Object.entries(PHASE_RUNS)) {
      if (!PHASES.has(short)) continue;
      for (const [name, url, isServe] of round % 2 === 0 ? servers : [...servers].reverse()) {
        runs[name][key].push({ ...(await runPhase(key, url, isServe)), loadavg1m: loadavg()[0] });
      }
    }
  }
} finally {
  serve.child.kill('SIGTERM');
  bare.child.kill('SIGTERM');
}
for (const [name] of servers) {
  results[name] = {};
  for (const [key, [, rate]] of Object.entries(PHASE_RUNS)) {
    const all = runs[name][key];
    if (all.length === 0) {
      results[name][key] = { skipped: true, latencyMs: {} };
      continue;
    }
    const median = [...all].sort((a, b) => rate(a) - rate(b))[Math.floor(all.length / 2)];
    results[name][key] = { ...median, runs: all.map(rate), lostInAllRuns: all.reduce((n, r) => n + (r.lost ?? 0), 0) };
  }
}
const loadAfter = loadavg();

const names = Object.keys(results);
const row = (label, f) => `${label.padEnd(42)}${names.map((k) => String(f(results[k]) ?? 'n/a').padStart(18)).join('')}`;
const pct = (f) => `${Math.round((100 * f(results['gpuqueue serve'])) / f(results['bare fastify']))} %`;
console.log(`${''.padEnd(42)}${names.map((k) => k.padStart(18)).join('')}${'serve ÷ bare'.padStart(14)}`);
console.log(`${row('single POST req/s', (r) => r.singlePost.requestsPerSecond)}${pct((r) => r.singlePost.requestsPerSecond).padStart(14)}`);
console.log(row('single POST p50 / p99 ms', (r) => `${r.singlePost.latencyMs.p50} / ${r.singlePost.latencyMs.p99}`));
console.log(row('single POST non-2xx', (r) => r.singlePost.non2xx));
console.log(
  `${row(`batch POST (${BATCH} × ${PAYLOAD_BYTES} B) msg/s accepted`, (r) => r.batchPost.messagesPerSecond)}${pct((r) => r.batchPost.messagesPerSecond).padStart(14)}`,
);
console.log(row('batch POST p50 / p99 ms', (r) => `${r.batchPost.latencyMs.p50} / ${r.batchPost.latencyMs.p99}`));
console.log(row('batch POST non-2xx', (r) => r.batchPost.non2xx));
console.log(row('batch POST msg/s to completion', (r) => r.batchPost.endedPerSecond));
console.log(
  `${row(`WebSocket ingest (${BATCH}/frame) msg/s to completion`, (r) => r.websocketIngest.messagesPerSecond)}${pct((r) => r.websocketIngest.messagesPerSecond).padStart(14)}`,
);
console.log(
  row('accepted but not ended, all runs (single/batch/ws)', (r) =>
    r.singlePost.lost === undefined
      ? undefined
      : `${r.singlePost.lostInAllRuns}/${r.batchPost.lostInAllRuns}/${r.websocketIngest.lostInAllRuns}`,
  ),
);
console.log(`median of ${ROUNDS} runs each (every run is in the JSON)`);
console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);

const record = {
  date: new Date().toISOString(),
  machine: {
    name: '2-core VM',
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: { before: loadBefore, after: loadAfter },
  },
  node: process.version,
  versions: {
    fastify: (await import('fastify/package.json', { with: { type: 'json' } })).default.version,
    autocannon: (await import('autocannon/package.json', { with: { type: 'json' } })).default.version,
    ws: (await import('ws/package.json', { with: { type: 'json' } })).default.version,
  },
  command: `node bench/serve-load.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  config: {
    engine: 'cpu',
    workers: 1,
    capacity: CAPACITY,
    slotBytes: PAYLOAD_BYTES,
    handler: 'checksum',
    whenResultsFull: 'evict-oldest',
    queue: queueConfig,
    payloadBytes: PAYLOAD_BYTES,
    batch: BATCH,
    seconds: SECONDS,
    connections: CONNECTIONS,
    batchConnections: BATCH_CONNECTIONS,
    wsFramesInFlight: WS_WINDOW,
    rounds: ROUNDS,
  },
  method:
    'Each server in its own process; the same autocannon settings and pre-built bodies for both. Batch POSTs pass ?timeoutMs so they wait for space. WebSocket: batch mode, one connection, pre-built frames, rate = completion records received / time from first send to last record. The WebSocket client uses a zero masking key (ws then skips masking). For serve, `accepted` is what the client saw accepted and `ended` the change in completed + dead-lettered once nothing was in flight; `lost` = accepted - ended.',
  results,
};
if (!ALL_PHASES) process.exit(0);
const out = fileURLToPath(new URL(`results/${record.date.slice(0, 10)}-serve-cpu.json`, import.meta.url));
writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(`wrote ${out}`);
