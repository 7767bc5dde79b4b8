// The server: opens each named queue, builds the Fastify app (auth, errors, routes) and owns the drain
// that SIGTERM starts: stop taking messages, let the queues finish what they hold, hand the last results
// and events to the clients still connected, then close.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { type Logger, pino } from 'pino';
import { ErrorCode } from '../index.js';
import { resolveServeOptions, type ServeConfig, type ServeOptions } from './config.js';
import { toHttpError } from './http-errors.js';
import { ServerMetrics } from './metrics.js';
import { registerEventRoutes, type StreamSet } from './routes/events.js';
import { batchBodyLimit, registerMessageRoutes } from './routes/messages.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerSocketRoute, type SocketSet } from './routes/socket.js';
import { ServedQueue } from './served-queue.js';

/** Paths anyone may read: probes, and the static dashboard files (its data needs the token). */
const OPEN_PATHS = /^\/(healthz|readyz|dashboard(\/(|index\.html|dashboard\.js|uPlot\.iife\.min\.js|uPlot\.min\.css))?|)(\?|$)/;

export interface DrainReport {
  durationMs: number;
  /** Per queue: results nobody read before the deadline, and messages the engine did not finish. */
  queues: Record<string, { unread: number[]; undelivered: number[] }>;
}

export class GpuQueueServer {
  readonly app: FastifyInstance;
  readonly config: ServeConfig;
  readonly queues: Map<string, ServedQueue>;
  readonly metrics: ServerMetrics;
  readonly log: Logger;
  private readonly streams: StreamSet = new Set();
  private readonly sockets: SocketSet = new Set();
  /** Every socket handed to 'upgrade', accepted or not: a refused upgrade would otherwise hold close() open. */
  private readonly upgraded = new Set<Duplex>();
  private drainPromise: Promise<DrainReport> | undefined;

  private constructor(config: ServeConfig, queues: Map<string, ServedQueue>, metrics: ServerMetrics, log: Logger) {
    this.config = config;
    this.queues = queues;
    this.metrics = metrics;
    this.log = log;
    this.app = Fastify({
      loggerInstance: log,
      // A child logger per request (for its reqId) costs more than the rest of a small request's own work;
      // while the level hides request logs (the quiet default), the server's logger is used as it is.
      childLoggerFactory: (logger, bindings, options) => (log.isLevelEnabled('info') ? logger.child(bindings, options) : logger),
      forceCloseConnections: 'idle',
      return503OnClosing: true,
    }) as unknown as FastifyInstance;
  }

  /** Opens the queues and builds the app; `listen()` starts serving. */
  static async create(options: ServeOptions): Promise<GpuQueueServer> {
    const config = resolveServeOptions(options);
    const log = pino({
      level: config.logLevel,
      base: { service: 'gpuqueue' },
      // Tokens never reach the log: no headers are logged, and ?access_token= is masked in URLs.
      serializers: {
        req: (req: { method?: string; url?: string }) => ({
          method: req.method,
          url: req.url?.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]'),
        }),
      },
    });
    const metrics = new ServerMetrics();
    const queues = new Map<string, ServedQueue>();
    try {
      for (const [name, q] of config.queues) {
        queues.set(name, await ServedQueue.open(name, q, metrics, config.eventLogSize, config.statsIntervalMs));
      }
    } catch (error) {
      await Promise.all([...queues.values()].map((q) => q.queue.shutdown({ timeoutMs: 1000 })));
      throw error;
    }
    const server = new GpuQueueServer(config, queues, metrics, log);
    await server.build();
    return server;
  }

  private async build(): Promise<void> {
    const app = this.app;
    // Bodies are octet-stream or JSON; anything else (text/plain included) is 415.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    if (this.config.token !== undefined) {
      const expected = createHash('sha256').update(this.config.token).digest();
      app.addHook('onRequest', async (request, reply) => {
        if (OPEN_PATHS.test(request.url)) return;
        const given = bearer(request);
        // Compare digests: constant time whatever the lengths.
        const ok = given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
        if (!ok) {
          this.metrics.httpRejected.inc({ queue: '', code: 'UNAUTHORIZED' });
          return reply
            .code(401)
            .header('www-authenticate', 'Bearer realm="gpuqueue"')
            .send({ code: 'UNAUTHORIZED', message: given === undefined ? 'a bearer token is required' : 'the bearer token is wrong' });
        }
      });
    }
    app.setErrorHandler((error, request, reply) => {
      const { status, body, retryAfterS } = toHttpError(error);
      if (status >= 500 && body.code === 'INTERNAL') request.log.error({ err: error, reqId: request.id }, 'request failed');
      const queue = /^\/queues\/([^/?]+)/.exec(request.url)?.[1] ?? '';
      this.metrics.httpRejected.inc({ queue, code: body.code });
      if (retryAfterS !== undefined) reply.header('retry-after', String(retryAfterS));
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((request, reply) => {
      const name = /^\/queues\/([^/?]+)/.exec(request.url)?.[1];
      const message =
        name !== undefined && !this.queues.has(decodeURIComponent(name))
          ? `no queue named ${JSON.stringify(decodeURIComponent(name))}; queues: ${[...this.queues.keys()].join(', ')}`
          : `no route ${request.method} ${request.url.split('?')[0]}`;
      return reply.code(404).send({ code: ErrorCode.NOT_FOUND, message });
    });
    app.server.on('upgrade', (_request, socket: Duplex) => {
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
    });
    registerOpsRoutes(app, this.queues, this.metrics);
    for (const [name, q] of this.queues) {
      const base = `/queues/${encodeURIComponent(name)}`;
      registerMessageRoutes(app, q, base);
      registerEventRoutes(app, q, base, this.streams);
    }
    // @fastify/websocket adds an onRequest and an onResponse hook; registered in a context of their own
    // with the socket routes, they run for those routes only, not on every POST.
    await app.register(async (sockets) => {
      await sockets.register(websocket, { options: { maxPayload: this.largestFrame() } });
      for (const [name, q] of this.queues) {
        registerSocketRoute(sockets, q, `/queues/${encodeURIComponent(name)}`, this.sockets, this.metrics);
      }
    });
  }

  /** A WebSocket frame may carry a whole batch (batch mode): the largest batch body any queue takes. */
  private largestFrame(): number {
    return Math.max(...[...this.queues.values()].map((q) => batchBodyLimit(q.slotBytes, q.maxBatch)));
  }

  /** Starts listening; resolves with the address (the port, when 0 was asked for). */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    await this.app.listen({ host: this.config.host, port: this.config.port });
    const address = this.app.server.address();
    const port = typeof address === 'object' && address ? address.port : this.config.port;
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return { host: this.config.host, port, url: `http://${host}:${port}` };
  }

  /** Drains every queue (see the class comment), then closes the server. Idempotent. */
  drain(): Promise<DrainReport> {
    this.drainPromise ??= this.drainAndClose();
    return this.drainPromise;
  }

  private async drainAndClose(): Promise<DrainReport> {
    const started = Date.now();
    const deadline = started + this.config.drainTimeoutMs;
    const queues: DrainReport['queues'] = {};
    await Promise.all(
      [...this.queues].map(async ([name, q]) => {
        queues[name] = await q.drain(deadline);
      }),
    );
    for (const end of [...this.streams]) end();
    for (const ws of this.sockets) ws.close(1001, 'server shutting down');
    const closed = this.app.close();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 500).unref())]);
    for (const socket of this.upgraded) socket.destroy();
    await closed;
    const report = { durationMs: Date.now() - started, queues };
    for (const [name, r] of Object.entries(queues)) {
      if (r.unread.length > 0 || r.undelivered.length > 0) {
        this.log.warn(
          { queue: name, unread: r.unread, undelivered: r.undelivered },
          'shut down with results nobody read or messages not finished',
        );
      }
    }
    this.log.info(report, 'drained and closed');
    return report;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  // Browsers cannot set headers on EventSource or WebSocket: the dashboard passes the token in the query.
  const query = request.query as Record<string, string | undefined> | undefined;
  return query?.access_token;
}

/** Opens the queues and starts a server. */
export async function serve(options: ServeOptions): Promise<{ server: GpuQueueServer; url: string }> {
  const server = await GpuQueueServer.create(options);
  try {
    const { url } = await server.listen();
    return { server, url };
  } catch (error) {
    await server.drain();
    throw error;
  }
}
