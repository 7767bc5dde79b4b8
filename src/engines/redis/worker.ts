// A Track A worker: consumes partition streams of a queue and runs their batches on a local engine
// (local-runner.ts). One worker at a time owns a partition (a lease: SET NX PX, renewed), reads it with
// XREADGROUP one entry at a time and reads the next only after the previous one's results were published
// and the entry acknowledged (lua/publish-result.lua): that is what keeps per-key FIFO across workers.
// A worker that takes a partition over first re-runs the entries its previous owner left pending, in
// order, dead-lettering those delivered `maxDeliveries` times (lua/dead-letter.lua).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { describeValue, InvalidArgumentError } from '../../core/errors.js';
import { HandlerStatus } from '../../core/handler-status.js';
import { close, connect, duplicate, ensureGroup, type RedisClient } from './connection.js';
import { type BatchConfig, decodeBatchConfig } from './handler-config.js';
import { configKey, deadKey, doneKey, GROUP, inboxKey, leaseKey, partitionsKey, streamKey } from './keys.js';
import { LocalRunner } from './local-runner.js';
import { type RedisConfig, type RedisOptions, resolveRedisOptions } from './options.js';
import { runScript, scripts } from './scripts.js';
import { packResults, unpackBatch, type WireMessage } from './wire.js';

export interface RedisWorkerOptions {
  /** Where the queue lives and its protocol settings (url, name, leaseMs, maxDeliveries…), as producers give them. */
  redis?: RedisOptions;
  /** The local engine that runs batches. **Default:** `'auto'` */
  engine?: 'auto' | 'cpu' | 'cuda';
  /** Consumer threads of a cpu local engine. **Default:** cores − 1 */
  threads?: number;
  /** Slots of the local ring. **Default:** `4096` */
  capacity?: number;
  /** Partitions this worker owns at most (others are left to other workers). **Default:** every partition */
  maxPartitions?: number;
  /** How long a blocked XREADGROUP waits before looking at the lease again. **Default:** `1000` */
  blockMs?: number;
  /**
   * How often the worker re-runs entries delivered to it that it never saw: a read reply lost in a way its
   * connection did not report (the `drops` guard below catches the reported ones at once). Such an entry
   * would otherwise stay pending for as long as this worker keeps its lease. **Default:** `5000`
   */
  sweepMs?: number;
  /** Names this worker in leases and consumer groups. **Default:** `<host>-<pid>-<random>` */
  id?: string;
  /** Called with errors the worker recovers from (Redis outages, malformed entries). **Default:** none */
  onError?: (error: Error) => void;
}

export interface RedisWorkerStats {
  id: string;
  /** Partitions owned now. */
  partitions: number[];
  batches: number;
  messages: number;
  /** Entries dead-lettered for too many deliveries. */
  deadLettered: number;
  /** Results not published because another delivery of the same batch already was. */
  duplicates: number;
  /** Entries re-run after a previous owner left them pending. */
  reclaimed: number;
  /** The local engines running batches, by config digest. */
  engines: string[];
}

/** Local engines kept at once (one per distinct handler/geometry); the least recently used idle one is stopped. */
const MAX_RUNNERS = 4;
/** Pending entries looked at per XPENDING call while recovering a partition. */
const PENDING_PAGE = 64;
/** RedisWorkerOptions.sweepMs: how often a worker re-runs entries delivered to it that it never saw. */
const DEFAULT_SWEEP_MS = 5000;
/** How often a worker looks for partitions that producers added since its last lease round. */
const DISCOVER_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Owned {
  partition: number;
  /** Cleared when the lease is lost or the worker stops: the loop finishes its entry, then ends. */
  held: boolean;
  reader: RedisClient;
  /**
   * Times the reader's connection dropped. ioredis re-sends a read that was in flight when its connection
   * dropped; if Redis had already delivered an entry to it (an `XREADGROUP >` reply lost with the
   * connection: with appendfsync the delivery is persisted before the reply is written), the re-sent read
   * takes the next entry and the lost one stays pending to this worker, which keeps the lease and so would
   * never recover it: its messages would never complete. A read that spans a drop is therefore not
   * trusted: its entry (pending now) is left to recover(), which runs every pending entry in order.
   */
  drops: number;
  loop: Promise<void>;
}

export class RedisWorker {
  readonly id: string;
  private readonly config: RedisConfig;
  private readonly options: RedisWorkerOptions;
  private readonly client: RedisClient;
  private readonly owned = new Map<number, Owned>();
  /** Local engines by config digest; `users` counts batches between runnerFor() and the end of their run. */
  private readonly runners = new Map<string, { runner: Promise<LocalRunner>; usedAt: number; users: number }>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private discoverTimer: NodeJS.Timeout | undefined;
  /** The partition count the last lease round saw: discover() runs a round when it grows. */
  private knownPartitions = 0;
  private discoverQueued = false;
  private leaseRound: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly counters = { batches: 0, messages: 0, deadLettered: 0, duplicates: 0, reclaimed: 0 };

  private constructor(client: RedisClient, config: RedisConfig, options: RedisWorkerOptions) {
    this.client = client;
    this.config = config;
    this.options = options;
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /** Connects (EngineUnavailableError when Redis cannot be reached) and starts taking partitions. */
  static async start(options: RedisWorkerOptions = {}): Promise<RedisWorker> {
    for (const name of ['blockMs', 'sweepMs'] as const) {
      const value = options[name];
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
        throw new InvalidArgumentError(`RedisWorker ${name} must be a positive number of milliseconds; got ${describeValue(value)}`);
      }
    }
    const config = resolveRedisOptions(options.redis);
    const client = await connect(config, 'worker');
    const worker = new RedisWorker(client, config, options);
    client.on('error', (error: Error) => worker.report(error));
    worker.leaseRound = worker.renewAndAcquire();
    await worker.leaseRound;
    worker.leaseTimer = setInterval(
      () => {
        worker.leaseRound = worker.leaseRound.then(() => worker.renewAndAcquire());
      },
      Math.max(50, Math.floor(config.leaseMs / 3)),
    );
    // Between lease rounds, a cheap look (one ZSCORE) for partitions that appeared since: a worker started
    // before its producers would otherwise leave their first messages waiting up to leaseMs/3.
    // At most one look queued: during an outage (commands wait for Redis) they must not pile up.
    worker.discoverTimer = setInterval(() => {
      if (worker.discoverQueued) return;
      worker.discoverQueued = true;
      worker.leaseRound = worker.leaseRound
        .then(() => worker.discover())
        .finally(() => {
          worker.discoverQueued = false;
        });
    }, DISCOVER_MS);
    return worker;
  }

  stats(): RedisWorkerStats {
    return {
      id: this.id,
      partitions: [...this.owned.keys()].sort((a, b) => a - b),
      ...this.counters,
      engines: [...this.runners.keys()],
    };
  }

  /** Finishes the batches in hand, gives the leases back, stops the local engines. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.discoverTimer);
    await this.leaseRound;
    await Promise.all([...this.owned.values()].map((o) => this.release(o)));
    for (const { runner } of this.runners.values()) await (await runner.catch(() => undefined))?.stop();
    this.runners.clear();
    await close(this.client);
  }

  // ---- leases ----

  private async renewAndAcquire(): Promise<void> {
    if (this.stopping) return;
    const { name, leaseMs } = this.config;
    try {
      for (const owned of [...this.owned.values()]) {
        const renewed = await runScript(this.client, scripts().leaseRenew, [leaseKey(name, owned.partition)], [this.id, leaseMs]);
        if (renewed !== 1) await this.release(owned);
      }
      const partitions = Number((await this.client.zscore(partitionsKey(name), 'count')) ?? 0);
      this.knownPartitions = partitions;
      const max = this.options.maxPartitions ?? Number.POSITIVE_INFINITY;
      // Start at a random partition, so workers starting together spread over the partitions.
      const offset = Math.floor(Math.random() * Math.max(1, partitions));
      for (let i = 0; i < partitions && this.owned.size < max && !this.stopping; i++) {
        const p = (offset + i) % partitions;
        if (this.owned.has(p)) continue;
        const taken = await this.client.set(leaseKey(name, p), this.id, 'PX', leaseMs, 'NX');
        if (taken === 'OK') this.own(p);
      }
    } catch (error) {
      this.report(error as Error);
    }
  }

  /** Runs a lease round now if producers registered more partitions than the last round saw. */
  private async discover(): Promise<void> {
    if (this.stopping || this.owned.size >= (this.options.maxPartitions ?? Number.POSITIVE_INFINITY)) return;
    try {
      const partitions = Number((await this.client.zscore(partitionsKey(this.config.name), 'count')) ?? 0);
      if (partitions > this.knownPartitions) await this.renewAndAcquire();
    } catch (error) {
      this.report(error as Error);
    }
  }

  private own(partition: number): void {
    const owned: Owned = { partition, held: true, reader: duplicate(this.client), drops: 0, loop: Promise.resolve() };
    owned.reader.on('close', () => {
      owned.drops++;
    });
    owned.loop = this.consume(owned);
    this.owned.set(partition, owned);
  }

  private async release(owned: Owned): Promise<void> {
    owned.held = false;
    this.owned.delete(owned.partition);
    // The reader may be blocked in XREADGROUP: disconnecting returns it at once.
    owned.reader.disconnect();
    await owned.loop;
    await runScript(this.client, scripts().leaseRelease, [leaseKey(this.config.name, owned.partition)], [this.id]).catch(() => {});
  }

  // ---- consuming a partition ----

  private async consume(owned: Owned): Promise<void> {
    const stream = streamKey(this.config.name, owned.partition);
    let recovered = false;
    let nextSweep = 0;
    while (owned.held && !this.stopping) {
      try {
        if (!recovered || Date.now() >= nextSweep) {
          await ensureGroup(this.client, stream, GROUP);
          await this.recover(owned);
          recovered = true;
          nextSweep = Date.now() + (this.options.sweepMs ?? DEFAULT_SWEEP_MS);
        }
        const drops = owned.drops;
        const reply = (await owned.reader.xreadgroupBuffer(
          'GROUP',
          GROUP,
          this.id,
          'COUNT',
          1,
          'BLOCK',
          this.options.blockMs ?? 1000,
          'STREAMS',
          stream,
          '>',
        )) as [Buffer, [Buffer, Buffer[]][]][] | null;
        if (owned.drops !== drops) {
          // Re-sent after a drop: an entry delivered to the first send may be pending unseen (see `drops`).
          recovered = false;
          continue;
        }
        const entry = reply?.[0]?.[1][0];
        if (entry && owned.held) await this.process(owned.partition, entry[0].toString(), entry[1]);
      } catch (error) {
        if (!owned.held || this.stopping) return;
        this.report(error as Error);
        // Whatever failed may have left our entry pending: recover (in order) before reading new ones.
        recovered = false;
        await sleep(200);
      }
    }
  }

  /** Re-runs, in stream order, the entries previous owners (or this worker, before an error) left pending. */
  private async recover(owned: Owned): Promise<void> {
    const stream = streamKey(this.config.name, owned.partition);
    let from = '-';
    while (owned.held && !this.stopping) {
      const page = (await this.client.xpending(stream, GROUP, from, '+', PENDING_PAGE)) as [string, string, number, number][];
      if (page.length === 0) return;
      for (const [id, consumer, , deliveries] of page) {
        if (!owned.held || this.stopping) return;
        if (deliveries >= this.config.maxDeliveries) {
          await this.deadLetter(owned.partition, id, deliveries);
          continue;
        }
        // Another consumer's entry counts one more delivery (that consumer died or lost its lease); our
        // own (left by an error here, e.g. Redis went away mid-publish) is re-run without counting one.
        const claimed = (
          consumer === this.id
            ? await this.client.xrangeBuffer(stream, id, id)
            : await this.client.callBuffer('XCLAIM', stream, GROUP, this.id, 0, id)
        ) as [Buffer, Buffer[]][];
        const entry = claimed[0];
        if (!entry) {
          // Deleted but still pending (should not happen: acknowledging deletes in one script): forget it.
          await this.client.xack(stream, GROUP, id);
          continue;
        }
        this.counters.reclaimed++;
        await this.process(owned.partition, id, entry[1]);
      }
      from = `(${page[page.length - 1]?.[0]}`;
    }
  }

  /** Runs one entry's batch on the local engine and publishes its results (at most once, see the script). */
  private async process(partition: number, entryId: string, fields: Buffer[]): Promise<void> {
    const f = fieldMap(fields);
    const producer = f.get('p')?.toString();
    const digest = f.get('c')?.toString();
    const packed = f.get('m');
    const stream = streamKey(this.config.name, partition);
    if (!producer || !digest || !packed) {
      this.report(new Error(`entry ${entryId} of ${stream} is not a gpuqueue batch: acknowledged and dropped`));
      await this.client.xack(stream, GROUP, entryId);
      await this.client.xdel(stream, entryId);
      return;
    }
    const messages = unpackBatch(packed);
    if (messages.length === 0) return;
    const kept = await this.runnerFor(digest);
    let results: Awaited<ReturnType<LocalRunner['run']>>;
    try {
      results = await (await kept.runner).run(messages);
    } finally {
      kept.users--;
    }
    const first = (messages[0] as WireMessage).id;
    const published = await runScript(
      this.client,
      scripts().publishResult,
      [stream, inboxKey(this.config.name, partition, producer), doneKey(this.config.name, partition, producer, first)],
      [GROUP, entryId, this.config.doneTtlMs, packResults(results)],
    );
    this.counters.batches++;
    this.counters.messages += messages.length;
    if (published === 0) this.counters.duplicates++;
  }

  private async deadLetter(partition: number, entryId: string, deliveries: number): Promise<void> {
    const stream = streamKey(this.config.name, partition);
    const [entry] = (await this.client.xrangeBuffer(stream, entryId, entryId)) as [Buffer, Buffer[]][];
    const f = fieldMap(entry?.[1] ?? []);
    const producer = f.get('p')?.toString();
    const packed = f.get('m');
    if (!producer || !packed) {
      await this.client.xack(stream, GROUP, entryId);
      return;
    }
    const messages = unpackBatch(packed);
    const reason = `delivered ${deliveries} times without being acknowledged (redis.maxDeliveries is ${this.config.maxDeliveries}): the workers running it died or lost their lease`;
    const results = messages.map((m) => ({
      id: m.id,
      handlerStatus: HandlerStatus.CONSUMER_DIED,
      attempts: deliveries,
      data: new Uint8Array(0),
    }));
    const first = messages[0]?.id ?? 0;
    await runScript(
      this.client,
      scripts().deadLetter,
      [
        stream,
        deadKey(this.config.name, partition),
        inboxKey(this.config.name, partition, producer),
        doneKey(this.config.name, partition, producer, first),
      ],
      [GROUP, entryId, this.config.doneTtlMs, packResults(results), reason, this.config.deadLetterMaxEntries, producer, packed],
    );
    this.counters.deadLettered++;
  }

  // ---- local engines ----

  /** The local engine for a digest, counted as in use until the caller decrements `users`. */
  private async runnerFor(digest: string): Promise<{ runner: Promise<LocalRunner>; usedAt: number; users: number }> {
    const found = this.runners.get(digest);
    if (found) {
      found.usedAt = performance.now();
      found.users++;
      return found;
    }
    const runner = (async () => {
      const text = await this.client.get(configKey(this.config.name, digest));
      if (text === null) throw new Error(`no batch config ${digest} in Redis (gq:{${this.config.name}}:config:${digest})`);
      const batch: BatchConfig = decodeBatchConfig(text);
      return LocalRunner.open({
        backend: this.options.engine ?? 'auto',
        handler: batch.handler,
        slotBytes: batch.slotBytes,
        resultBytes: batch.resultBytes,
        maxRetries: batch.maxRetries,
        capacity: this.options.capacity ?? 4096,
        threads: this.options.threads,
      });
    })();
    const kept = { runner, usedAt: performance.now(), users: 1 };
    this.runners.set(digest, kept);
    runner.catch(() => this.runners.delete(digest));
    await this.evictIdleRunners();
    return kept;
  }

  private async evictIdleRunners(): Promise<void> {
    while (this.runners.size > MAX_RUNNERS) {
      let oldest: [string, number] | undefined;
      for (const [digest, kept] of this.runners) {
        const r = await kept.runner.catch(() => undefined);
        if (r && kept.users === 0 && !r.busy && (!oldest || kept.usedAt < oldest[1])) oldest = [digest, kept.usedAt];
      }
      if (!oldest) return;
      const victim = this.runners.get(oldest[0]);
      this.runners.delete(oldest[0]);
      await (await victim?.runner)?.stop();
    }
  }

  private report(error: Error): void {
    this.options.onError?.(error);
  }
}

function fieldMap(fields: Buffer[]): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer);
  return map;
}
