// `gpuqueue serve`: the HTTP/WebSocket/SSE server (src/server/) over one or more named queues, configured
// by a JSON/YAML file and/or flags. SIGTERM or SIGINT drains the queues, then closes the server.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { HandlerOption } from '../index.js';
import { readConfigFile, type ServedQueueOptions, type ServeOptions } from '../server/config.js';

export interface ServeCommandOptions {
  config?: string;
  host?: string;
  port?: string;
  token?: string;
  tokenFile?: string;
  queue: string[];
  engine?: string;
  capacity?: string;
  slotBytes?: string;
  handler?: string;
  workers?: string;
  whenResultsFull?: 'backpressure' | 'evict-oldest';
  logLevel?: ServeOptions['logLevel'];
  drainTimeoutMs?: string;
  statsIntervalMs?: string;
}

const integer = (what: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${what} must be a whole number; got ${JSON.stringify(text)}`);
  return n;
};

/** `--handler checksum` or `--handler '{"name":"fault","inner":"echo","failRate":0.1}'`. */
const handlerOption = (text: string): HandlerOption => (text.trim().startsWith('{') ? (JSON.parse(text) as HandlerOption) : text);

/** Flags over the file: queue flags apply to every queue named by --queue (or to all queues of the file). */
export function serveOptionsFrom(flags: ServeCommandOptions, env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const options: ServeOptions = flags.config ? readConfigFile(flags.config) : {};
  if (flags.host !== undefined) options.host = flags.host;
  const port = integer('port', flags.port);
  if (port !== undefined) options.port = port;
  const token = flags.token ?? (flags.tokenFile ? readFileSync(flags.tokenFile, 'utf8').trim() : undefined) ?? env.GPUQUEUE_TOKEN;
  if (token !== undefined) options.token = token;
  if (flags.logLevel !== undefined) options.logLevel = flags.logLevel;
  const drain = integer('drain-timeout-ms', flags.drainTimeoutMs);
  if (drain !== undefined) options.drainTimeoutMs = drain;
  const statsEvery = integer('stats-interval-ms', flags.statsIntervalMs);
  if (statsEvery !== undefined) options.statsIntervalMs = statsEvery;
  const queues: Record<string, ServedQueueOptions> = { ...(options.queues ?? {}) };
  for (const name of flags.queue) queues[name] ??= {};
  if (Object.keys(queues).length === 0) queues.default = {};
  const shared: ServedQueueOptions = {};
  if (flags.engine !== undefined) shared.backend = flags.engine as ServedQueueOptions['backend'];
  const capacity = integer('capacity', flags.capacity);
  if (capacity !== undefined) shared.capacity = capacity;
  const slotBytes = integer('slot-bytes', flags.slotBytes);
  if (slotBytes !== undefined) shared.slotBytes = slotBytes;
  const workers = integer('workers', flags.workers);
  if (workers !== undefined) shared.workers = workers;
  if (flags.handler !== undefined) shared.handler = handlerOption(flags.handler);
  if (flags.whenResultsFull !== undefined) shared.whenResultsFull = flags.whenResultsFull;
  for (const name of Object.keys(queues)) queues[name] = { ...queues[name], ...shared };
  options.queues = queues;
  return options;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve queues over HTTP, WebSocket and Server-Sent Events, with /metrics, health probes and a dashboard')
    .option('--config <file>', 'JSON or YAML file: { host, port, token, queues: { name: { queue options } }, … } (docs/server.md)')
    .option('--host <address>', 'address to listen on; anything but loopback needs a token (default: 127.0.0.1)')
    .option('--port <n>', 'port (0: any free one) (default: 8080)')
    .option('--token <token>', 'bearer token clients must send (default: $GPUQUEUE_TOKEN)')
    .option('--token-file <file>', 'read the bearer token from a file')
    .option(
      '--queue <name>',
      'a queue to serve (repeatable; default: one queue named "default")',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .addOption(new Option('--engine <engine>', 'engine of the queues').choices(['auto', 'cpu', 'cuda', 'webgpu']))
    .option('--capacity <n>', 'slots per queue, a power of two')
    .option('--slot-bytes <n>', 'largest payload in bytes (also the body limit)')
    .option('--handler <handler>', 'handler name, or JSON with its parameters')
    .option('--workers <n>', 'consumer threads of the cpu engine')
    .addOption(new Option('--when-results-full <what>', 'when unread results pile up').choices(['backpressure', 'evict-oldest']))
    .addOption(
      new Option('--log-level <level>', 'pino log level (default: warn)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option('--drain-timeout-ms <ms>', 'how long SIGTERM waits for in-flight messages and unread results (default: 30000)')
    .option('--stats-interval-ms <ms>', 'how often stats events are published (default: 1000)')
    .action(async (flags: ServeCommandOptions) => {
      // Loaded here, not at the top: every other command starts without Fastify and its plugins.
      const { serve } = await import('../server/app.js');
      const { server, url } = await serve(serveOptionsFrom(flags));
      console.log(`gpuqueue serve: listening on ${url} (queues: ${[...server.queues.keys()].join(', ')}; dashboard ${url}/dashboard/)`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          console.log(`gpuqueue serve: ${signal}: draining`);
          server.drain().then((report) => {
            console.log(`gpuqueue serve: drained in ${report.durationMs} ms`);
            resolve();
          }, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
