// `gpuqueue worker`: a Track A worker. It takes partitions of a queue in Redis (leases), runs their
// batches on a local engine (cpu or cuda) and publishes the results; SIGINT/SIGTERM finish the batches
// in hand and give the partitions back. One status line every few seconds shows it is alive.
import { Command, Option } from 'commander';
import { DEFAULT_REDIS_OPTIONS, type RedisOptions, RedisWorker, type RedisWorkerOptions } from '../index.js';

export interface WorkerCommandOptions {
  redis: string;
  name: string;
  engine: 'auto' | 'cpu' | 'cuda';
  cluster?: string;
  threads?: string;
  capacity?: string;
  maxPartitions?: string;
  leaseMs?: string;
  maxDeliveries?: string;
  statusEverySeconds: string;
}

const integer = (what: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${what} must be a whole number; got ${JSON.stringify(text)}`);
  return n;
};

export function workerCommand(): Command {
  return new Command('worker')
    .description('consume a queue from Redis Streams and run its batches on a local engine (Track A)')
    .option('--redis <url>', 'Redis to consume from', DEFAULT_REDIS_OPTIONS.url)
    .option('--cluster <nodes>', 'Redis Cluster seed nodes, comma-separated host:port (instead of --redis)')
    .option('--name <name>', 'the queue name producers gave as redis.name', DEFAULT_REDIS_OPTIONS.name)
    .addOption(new Option('--engine <engine>', 'local engine that runs the batches').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .option('--threads <n>', 'consumer threads of the cpu engine (default: cores - 1)')
    .option('--capacity <n>', 'slots of the local ring, a power of two (default: 4096)')
    .option('--max-partitions <n>', 'partitions this worker owns at most (default: all it can get)')
    .option('--lease-ms <ms>', `partition lease; must match the producers' redis.leaseMs (default: ${DEFAULT_REDIS_OPTIONS.leaseMs})`)
    .option('--max-deliveries <n>', `deliveries before an entry is dead-lettered (default: ${DEFAULT_REDIS_OPTIONS.maxDeliveries})`)
    .option('--status-every-seconds <s>', 'seconds between status lines (0: none)', '5')
    .action(async (options: WorkerCommandOptions) => {
      process.exitCode = await runWorker(options);
    });
}

export async function runWorker(options: WorkerCommandOptions): Promise<number> {
  const redis: RedisOptions = { url: options.redis, name: options.name };
  if (options.cluster) redis.clusterNodes = options.cluster.split(',').map((n) => n.trim());
  const leaseMs = integer('lease-ms', options.leaseMs);
  if (leaseMs !== undefined) redis.leaseMs = leaseMs;
  const maxDeliveries = integer('max-deliveries', options.maxDeliveries);
  if (maxDeliveries !== undefined) redis.maxDeliveries = maxDeliveries;
  const workerOptions: RedisWorkerOptions = {
    redis,
    engine: options.engine,
    onError: (error) => console.error(`gpuqueue worker: ${error.message} (recovering)`),
  };
  const threads = integer('threads', options.threads);
  if (threads !== undefined) workerOptions.threads = threads;
  const capacity = integer('capacity', options.capacity);
  if (capacity !== undefined) workerOptions.capacity = capacity;
  const maxPartitions = integer('max-partitions', options.maxPartitions);
  if (maxPartitions !== undefined) workerOptions.maxPartitions = maxPartitions;

  const worker = await RedisWorker.start(workerOptions);
  const target = options.cluster ? `cluster ${options.cluster}` : options.redis.replace(/\/\/([^@/]*:)?[^@/]*@/, '//***@');
  console.log(`gpuqueue worker ${worker.id}: consuming "${options.name}" on ${target} with the ${options.engine} engine`);
  const everyMs = Number(options.statusEverySeconds) * 1000;
  const started = performance.now();
  const status =
    everyMs > 0
      ? setInterval(() => {
          const s = worker.stats();
          const rate = s.messages / ((performance.now() - started) / 1000);
          console.log(
            `partitions [${s.partitions.join(',')}]  messages ${s.messages} (${rate.toFixed(0)}/s)  batches ${s.batches}  ` +
              `re-run ${s.reclaimed}  dead-lettered ${s.deadLettered}  duplicates suppressed ${s.duplicates}`,
          );
        }, everyMs)
      : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(status);
  console.log('gpuqueue worker: finishing the batches in hand and giving the partitions back…');
  await worker.stop();
  return 0;
}
