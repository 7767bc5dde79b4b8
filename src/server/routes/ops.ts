// Liveness, readiness, Prometheus metrics, the list of queues, and the dashboard page with its files
// (the page and script from src/server/dashboard, uPlot straight from node_modules: no build step).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from '../metrics.js';
import type { ServedQueue } from '../served-queue.js';

/** The dashboard files are read from beside the compiled module, else from the source tree. */
const DASHBOARD_PLACES = [new URL('../dashboard/', import.meta.url), new URL('../../../../src/server/dashboard/', import.meta.url)];

function dashboardFile(name: string): Buffer {
  for (const dir of DASHBOARD_PLACES) {
    try {
      return readFileSync(new URL(name, dir));
    } catch {}
  }
  throw new Error(`gpuqueue: the dashboard file ${name} is missing (looked in ${DASHBOARD_PLACES.map((p) => p.pathname).join(', ')})`);
}

function uplotFile(name: string): Buffer {
  const require = createRequire(import.meta.url);
  return readFileSync(join(dirname(require.resolve('uplot/package.json')), 'dist', name));
}

/** /readyz answers 503 once a GPU engine's heartbeat (stats().heartbeatAgeMs) is older than this. */
const HEARTBEAT_STALE_MS = 1000;

export function registerOpsRoutes(app: FastifyInstance, queues: Map<string, ServedQueue>, metrics: ServerMetrics): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const all = [...queues].map(([name, q]) => [name, q.stats()] as const);
    const states = Object.fromEntries(all.map(([name, s]) => [name, s.state]));
    // A GPU engine is ready only while its heartbeat is fresh: past a second the kernel is stuck or gone
    // (the watchdog fails it after watchdogMs; a probe need not wait that long to stop sending traffic).
    const stale = all.filter(([, s]) => (s.heartbeatAgeMs ?? 0) > HEARTBEAT_STALE_MS).map(([name]) => name);
    if (stale.length > 0) {
      return reply.code(503).send({
        code: 'ENGINE_FAILED',
        message: `the GPU heartbeat of ${stale.join(', ')} is older than ${HEARTBEAT_STALE_MS} ms`,
        queues: states,
      });
    }
    const ready = Object.values(states).every((s) => s === 'ready' || s === 'paused');
    if (ready) return { status: 'ready', queues: states };
    const failed = Object.values(states).includes('failed');
    return reply.code(503).send({
      code: failed ? 'ENGINE_FAILED' : 'SHUTDOWN',
      message: failed ? 'an engine failed' : 'the server is draining',
      queues: states,
    });
  });

  app.get('/metrics', async (_request, reply) => {
    for (const q of queues.values()) q.updateMetrics();
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/queues', async () =>
    [...queues].map(([name, q]) => {
      const s = q.stats();
      return { name, engine: s.engine, state: s.state, capacity: s.capacity, slotBytes: q.slotBytes, maxBatch: q.maxBatch };
    }),
  );

  const files: Record<string, [string, () => Buffer]> = {
    '/dashboard/': ['text/html; charset=utf-8', () => dashboardFile('index.html')],
    '/dashboard/dashboard.js': ['text/javascript; charset=utf-8', () => dashboardFile('dashboard.js')],
    '/dashboard/uPlot.iife.min.js': ['text/javascript; charset=utf-8', () => uplotFile('uPlot.iife.min.js')],
    '/dashboard/uPlot.min.css': ['text/css; charset=utf-8', () => uplotFile('uPlot.min.css')],
  };
  for (const [path, [type, read]] of Object.entries(files)) {
    let cached: Buffer | undefined;
    app.get(path, async (_request, reply) => {
      cached ??= read();
      return reply.header('content-type', type).send(cached);
    });
  }
  app.get('/dashboard', async (request, reply) => reply.redirect(`/dashboard/${request.url.slice('/dashboard'.length)}`));
  app.get('/', async (request, reply) => reply.redirect(`/dashboard/${request.url.slice(1)}`));
}
