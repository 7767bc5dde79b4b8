// The redis engine's consumer: a bridge on the owner thread that ships the ring's READY slots to Redis
// Streams and writes back the results that workers publish. The ring stays the bounded outbox and inbox,
// so enqueue, FULL/TIMEOUT, results, retries accounting and shutdown are the Queue's as on every engine.
//
//   shard n READY ──pack, XADD (lua/ship.lua)──▶ gq:{name:pn}:stream ──▶ workers (worker.ts)
//   shard n DONE ◀──unpack, write slots────────── gq:{name:pn}:inbox:<producer> ◀── lua/publish-result.lua
//
// Per shard, at most WINDOW batches are out (shipped, results not back), and a batch's XADD is sent only
// once the previous one's was accepted: so batches reach the stream in position order (per-key FIFO: the
// partitioner keeps a key on one shard, so on one stream) even when a full stream refuses one. Two out
// let a worker take the next entry the moment it publishes a result, instead of idling for a
// producer round trip; more would only queue in the stream (a worker runs one entry per partition at a
// time). The next batch takes everything that became READY meanwhile (batches grow with load, like
// Nagle). Batch size starts at one message and doubles while batches come back within BATCH_TARGET_MS
// (halving when slower), so a slow handler gets small batches and a fast one gets `batchMessages`.
// Nothing blocks the event loop: results arrive on a dedicated connection blocked in XREAD, never by
// polling per message.
import { randomBytes } from 'node:crypto';
import { HandlerStatus } from '../../core/handler-status.js';
import {
  Control,
  consumerDoorbellWord,
  doneState,
  headerWord,
  outcomeWord,
  payloadByte,
  resultByte,
  ShardControl,
  SlotHeader,
  SlotOutcome,
  SlotState,
  shardWord,
  slotOf,
  stateWord,
} from '../../core/slot-layout.js';
import type { Engine, EngineContext } from '../engine.js';
import { close, connect, describeTarget, duplicate, ensureGroup, type RedisClient } from './connection.js';
import { configDigest, encodeBatchConfig } from './handler-config.js';
import { configKey, GROUP, inboxKey, partitionsKey, streamKey } from './keys.js';
import type { RedisConfig } from './options.js';
import { runScript, scripts } from './scripts.js';
import { packBatch, unpackResults, type WireMessage } from './wire.js';

/** A shipped batch waiting for its results: where its slots are, and what to re-ship if Redis lost it. */
interface Shipped {
  shard: number;
  position: number;
  count: number;
  packed: Buffer;
  shippedAt: number;
  /** The stream entry id, once XADD answered. */
  entryId: string | undefined;
  /** Watchdog rounds that found the entry gone from the stream while no result came. */
  missing: number;
}

/** Result entries taken per XREAD, and how long one blocks before looking at `stopping` again. */
const READ_COUNT = 64;
const READ_BLOCK_MS = 1000;
/** While the stream is full (backpressure) or Redis fails, a batch is retried after this long (doubling). */
const RETRY_MIN_MS = 2;
const RETRY_MAX_MS = 200;
/** Checks for PAUSED to clear, and the doorbell sleep's safety net. */
const PAUSED_CHECK_MS = 5;
const DOORBELL_SLEEP_MS = 100;
/** An inbox outlives a vanished producer by this long (refreshed while it lives). */
const INBOX_TTL_MS = 10 * 60_000;
/** Batches grow while they come back within this long, and shrink when they take twice as long. */
const BATCH_TARGET_MS = 20;
/** Read inbox entries are deleted at most this long after, or at once when this many are gathered. */
const INBOX_DELETE_MS = 20;
const INBOX_DELETE_MAX = 256;
/** Batches out per partition at most (what pause() cannot stop). */
const WINDOW = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RedisEngine implements Engine {
  readonly name = 'redis';
  readonly wakesOwner = true;
  /** Results are written by the XREAD callback on this thread: the Queue must not spin for them. */
  readonly completesOnOwnerThread = true;
  /** Names this producer's inboxes; results for its batches go there. */
  readonly producerId = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  private readonly ctx: EngineContext;
  private readonly config: RedisConfig;
  private client: RedisClient | undefined;
  private readonly readers: RedisClient[] = [];
  private readonly loops: Promise<void>[] = [];
  private digest = '';
  private batchConfig = '';
  /** Per shard: the next position to ship, and whether a batch of it is on its way. */
  private readonly cursors: number[];
  /** Per shard: the batches out (shipped, results not back) in position order, and the size of the next one. */
  private readonly out: Shipped[][];
  private readonly batchCap: number[];
  /** Per shard: an XADD is on its way (or waiting to be retried); the next waits for its acceptance. */
  private readonly sending: boolean[];
  /** Out batches by their first message id (unique: ids only grow), which result entries name. */
  private readonly shipped = new Map<number, Shipped>();
  private stopping = false;
  private sleeping = false;
  private pumpQueued = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Inbox entries read and not yet deleted, by inbox (deleteLater). */
  private readonly readIds = new Map<string, string[]>();
  private readIdCount = 0;
  private deleteTimer: NodeJS.Timeout | undefined;
  /** The last Redis failure while it lasts (cleared by the next success): shown by describe(). */
  private failure: string | undefined;

  constructor(ctx: EngineContext, config: RedisConfig) {
    this.ctx = ctx;
    this.config = config;
    const { shards } = ctx.ring.layout;
    this.cursors = Array.from({ length: shards }, (_, s) => ctx.ring.control(shardWord(s, ShardControl.CONSUMER_CURSOR)));
    this.out = Array.from({ length: shards }, () => []);
    this.batchCap = new Array<number>(shards).fill(1);
    this.sending = new Array<boolean>(shards).fill(false);
  }

  describe(): string {
    const n = this.ctx.ring.layout.shards;
    const where = `${n} partition stream${n === 1 ? '' : 's'} of "${this.config.name}" on ${describeTarget(this.config)}`;
    return this.failure ? `${where}; Redis failing: ${this.failure}` : where;
  }

  async start(): Promise<void> {
    const { ring, handler } = this.ctx;
    const { shards, slotBytes, resultBytes } = ring.layout;
    const client = await connect(this.config, 'producer');
    this.client = client;
    client.on('error', (error: Error) => {
      this.failure = error.message;
    });
    const name = this.config.name;
    this.batchConfig = encodeBatchConfig({
      handler,
      slotBytes,
      resultBytes,
      maxRetries: ring.control(Control.MAX_RETRIES),
    });
    const batchConfig = this.batchConfig;
    this.digest = configDigest(batchConfig);
    await client.set(configKey(name, this.digest), batchConfig);
    await client.zadd(partitionsKey(name), 'GT', shards, 'count');
    for (let p = 0; p < shards; p++) {
      await ensureGroup(client, streamKey(name, p), GROUP);
      // An empty inbox exists from the start: workers publish only to inboxes that exist (lua/publish-result.lua).
      const inbox = inboxKey(name, p, this.producerId);
      await client.xadd(inbox, 'MAXLEN', '0', '*', 'hello', '1');
      await client.pexpire(inbox, INBOX_TTL_MS);
    }
    this.refreshTimer = setInterval(() => this.watch(), this.config.leaseMs);
    this.refreshTimer.unref();
    // Cluster: an XREAD may name keys of one slot only, so one reader per partition; else one for all.
    const groups = this.config.clusterNodes ? Array.from({ length: shards }, (_, p) => [p]) : [Array.from({ length: shards }, (_, p) => p)];
    for (const partitions of groups) {
      const reader = duplicate(client);
      this.readers.push(reader);
      this.loops.push(this.readResults(reader, partitions));
    }
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.refreshTimer);
    // A blocked XREAD returns at once when its connection goes away.
    for (const reader of this.readers) reader.disconnect();
    await Promise.all(this.loops);
    // The inboxes are deleted below: what was read need not be deleted entry by entry.
    clearTimeout(this.deleteTimer);
    const client = this.client;
    if (!client) return;
    const inboxes = Array.from({ length: this.ctx.ring.layout.shards }, (_, p) => inboxKey(this.config.name, p, this.producerId));
    // Delete the inboxes (late results for this producer are then dropped by the workers), unless Redis is gone.
    await Promise.race([Promise.all(inboxes.map((k) => client.del(k))).catch(() => {}), sleep(1000)]);
    await close(client);
  }

  // ---- shipping ----

  /** Ships what is READY in every shard with no batch on its way; sleeps on the doorbell when there is nothing. */
  private readonly pump = (): void => {
    this.pumpQueued = false;
    if (this.stopping) return;
    const { ring } = this.ctx;
    if (ring.control(Control.STOP) === 1) return;
    if (ring.control(Control.PAUSED) === 1) {
      setTimeout(this.pump, PAUSED_CHECK_MS);
      return;
    }
    for (let s = 0; s < this.cursors.length; s++) if (this.canShip(s)) this.shipShard(s);
    this.sleepUnlessReady();
  };

  private canShip(shard: number): boolean {
    return !this.sending[shard] && (this.out[shard] as Shipped[]).length < WINDOW;
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.stopping) return;
    this.pumpQueued = true;
    // A pump is coming: producers need not ring (a ring would only wake the doorbell wait for nothing,
    // on the core that redis-server and the worker need). sleepUnlessReady() re-arms the bell.
    Atomics.store(this.ctx.ring.i32, consumerDoorbellWord(this.ctx.ring.layout, 0), 0);
    setImmediate(this.pump);
  }

  /**
   * Sleeps on the consumer doorbell: set it, look once more, then wait without blocking (waitAsync); a
   * producer on any thread that publishes READY sees the doorbell and notifies.
   */
  private sleepUnlessReady(): void {
    const { ring } = this.ctx;
    const bell = consumerDoorbellWord(ring.layout, 0);
    Atomics.store(ring.i32, bell, 1);
    for (let s = 0; s < this.cursors.length; s++) {
      if (this.canShip(s) && ring.stateAt(s, this.cursors[s] as number) === SlotState.READY) {
        Atomics.store(ring.i32, bell, 0);
        this.schedulePump();
        return;
      }
    }
    // A wait still pending (the bell was only silenced by schedulePump) wakes on the next ring.
    if (this.sleeping) return;
    this.sleeping = true;
    const waited = Atomics.waitAsync(ring.i32, bell, 1, DOORBELL_SLEEP_MS);
    const wake = () => {
      this.sleeping = false;
      Atomics.store(ring.i32, bell, 0);
      // Ship now rather than a turn later: a lone message's round trip starts here.
      if (!this.pumpQueued) this.pump();
    };
    if (waited.async) waited.value.then(wake);
    else wake();
  }

  /** Takes the shard's run of READY slots (at most batchMessages), marks them INFLIGHT and ships them. */
  private shipShard(shard: number): void {
    const { ring } = this.ctx;
    const { layout, i32 } = ring;
    const position = this.cursors[shard] as number;
    const messages: WireMessage[] = [];
    const cap = this.batchCap[shard] as number;
    while (messages.length < cap) {
      const slot = slotOf(layout, shard, (position + messages.length) | 0);
      const state = stateWord(layout, slot);
      if (Atomics.load(i32, state) !== SlotState.READY) break;
      Atomics.store(i32, state, SlotState.INFLIGHT);
      // ATTEMPTS counts handler runs; the worker's local engine reports them with the result.
      const h = headerWord(layout, slot);
      const payload = payloadByte(layout, slot);
      messages.push({
        id: ring.idAt(slot),
        keyHash: i32[h + SlotHeader.KEY_HASH] as number,
        flags: i32[h + SlotHeader.FLAGS] as number,
        payload: ring.u8.subarray(payload, payload + (i32[h + SlotHeader.PAYLOAD_LEN] as number)),
      });
    }
    if (messages.length === 0) return;
    const next = (position + messages.length) | 0;
    this.cursors[shard] = next;
    Atomics.store(i32, shardWord(shard, ShardControl.CONSUMER_CURSOR), next);
    const first = (messages[0] as WireMessage).id;
    const batch: Shipped = {
      shard,
      position,
      count: messages.length,
      packed: packBatch(messages),
      shippedAt: performance.now(),
      entryId: undefined,
      missing: 0,
    };
    // Registered before the XADD: a fast worker's result may arrive before the XADD's reply does.
    this.shipped.set(first, batch);
    (this.out[shard] as Shipped[]).push(batch);
    this.sending[shard] = true;
    this.send(batch).then(() => {
      this.sending[shard] = false;
      this.schedulePump();
    });
  }

  /**
   * XADDs one batch, waiting while the stream is full or Redis fails; only `stop()` (or the batch's
   * results arriving) ends the wait. The caller holds `sending[shard]` meanwhile.
   */
  private async send(batch: Shipped): Promise<void> {
    const client = this.client as RedisClient;
    const key = streamKey(this.config.name, batch.shard);
    const out = this.out[batch.shard] as Shipped[];
    let backoff = RETRY_MIN_MS;
    while (!this.stopping && out.includes(batch)) {
      try {
        const id = await runScript(
          client,
          scripts().ship,
          [key],
          [this.config.maxStreamEntries, this.producerId, this.digest, batch.packed],
        );
        this.failure = undefined;
        if (id !== null) {
          batch.entryId = String(id);
          return;
        }
      } catch (error) {
        this.failure = (error as Error).message;
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, RETRY_MAX_MS);
    }
  }

  // ---- results ----

  /** Reads result entries from the inboxes of `partitions`, writes them into their slots, deletes them. */
  private async readResults(reader: RedisClient, partitions: number[]): Promise<void> {
    const keys = partitions.map((p) => inboxKey(this.config.name, p, this.producerId));
    const lastIds = keys.map(() => '0-0');
    while (!this.stopping) {
      let reply: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        reply = (await reader.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', ...keys, ...lastIds)) as typeof reply;
      } catch (error) {
        if (this.stopping) return;
        this.failure = (error as Error).message;
        await sleep(RETRY_MAX_MS);
        continue;
      }
      if (!reply) continue;
      let completed = 0;
      const read: [string, string[]][] = [];
      for (const [keyBytes, entries] of reply) {
        const k = keys.indexOf(keyBytes.toString());
        const ids: string[] = [];
        for (const [idBytes, fields] of entries) {
          ids.push(idBytes.toString());
          completed += this.applyResults(fields);
        }
        if (k < 0 || ids.length === 0) continue;
        lastIds[k] = ids[ids.length - 1] as string;
        read.push([keys[k] as string, ids]);
      }
      if (completed > 0) {
        // On this thread: hand the results over now. Ringing the harvester's doorbell as well would only
        // wake it for an empty pass (and a new wait) per batch; without harvestNow, it is how results land.
        if (this.ctx.harvestNow) {
          this.ctx.harvestNow();
          this.beat();
        } else this.wakeOwner();
      }
      // Read once, by this producer only: delete them, so inboxes stay small — not on the results' way,
      // and not one XDEL per read: gathered for INBOX_DELETE_MS (one command, not one per round trip).
      for (const [key, ids] of read) this.deleteLater(key, ids);
      // Block again only after the waiters just completed have run (they may enqueue the next message,
      // which the pump ships in this same check phase): sending the XREAD first would sit on their way.
      if (completed > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private deleteLater(key: string, ids: string[]): void {
    const pending = this.readIds.get(key);
    if (pending) pending.push(...ids);
    else this.readIds.set(key, ids);
    this.readIdCount += ids.length;
    if (this.readIdCount >= INBOX_DELETE_MAX) this.deleteRead();
    else this.deleteTimer ??= setTimeout(this.deleteRead, INBOX_DELETE_MS);
  }

  private readonly deleteRead = (): void => {
    clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    for (const [key, ids] of this.readIds) this.client?.xdel(key, ...ids).catch(() => {});
    this.readIds.clear();
    this.readIdCount = 0;
  };

  /** Writes one result entry into its batch's slots and publishes them DONE; returns how many. */
  private applyResults(fields: Buffer[]): number {
    let packed: Buffer | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) if ((fields[i] as Buffer).toString() === 'm') packed = fields[i + 1];
    if (!packed) return 0;
    let results: ReturnType<typeof unpackResults>;
    try {
      results = unpackResults(packed);
    } catch {
      return 0;
    }
    const first = results[0]?.id;
    const batch = first === undefined ? undefined : this.shipped.get(first);
    // Unknown batch: a duplicate result (already applied) or one from an earlier producer of the same id.
    if (!batch) return 0;
    this.shipped.delete(first as number);
    this.finished(batch);
    const { ring } = this.ctx;
    const { layout, i32 } = ring;
    let n = 0;
    for (let i = 0; i < results.length && i < batch.count; i++) {
      const r = results[i] as (typeof results)[number];
      const slot = slotOf(layout, batch.shard, (batch.position + i) | 0);
      const state = stateWord(layout, slot);
      if (Atomics.load(i32, state) !== SlotState.INFLIGHT || ring.idAt(slot) !== r.id) continue;
      const tooLarge = r.data.byteLength > layout.resultBytes;
      ring.u8.set(tooLarge ? r.data.subarray(0, 0) : r.data, resultByte(layout, slot));
      const w = outcomeWord(layout, slot);
      i32[w + SlotOutcome.ATTEMPTS] = r.attempts;
      i32[w + SlotOutcome.HANDLER_STATUS] = tooLarge ? HandlerStatus.RESULT_TOO_LARGE : r.handlerStatus;
      i32[w + SlotOutcome.RESULT_LEN] = tooLarge ? 0 : r.data.byteLength;
      // Release: the result and the fields above become visible with DONE.
      Atomics.store(i32, state, doneState(layout.shardCapacity, (batch.position + i) | 0));
      n++;
    }
    return n;
  }

  /** Results arrived: the engine lives (what its heartbeat says). */
  private beat(): void {
    Atomics.add(this.ctx.ring.i32, Control.HEARTBEAT, 1);
  }

  private wakeOwner(): void {
    const { i32 } = this.ctx.ring;
    this.beat();
    if (Atomics.load(i32, Control.HARVEST_DOORBELL) === 1) {
      Atomics.store(i32, Control.HARVEST_DOORBELL, 0);
      Atomics.notify(i32, Control.HARVEST_DOORBELL);
    }
  }

  /** A batch's results are in: size the shard's next batch by how long this one took, and ship it. */
  private finished(batch: Shipped): void {
    const tookMs = performance.now() - batch.shippedAt;
    const cap = this.batchCap[batch.shard] as number;
    if (tookMs < BATCH_TARGET_MS && batch.count >= cap) this.batchCap[batch.shard] = Math.min(cap * 2, this.config.batchMessages);
    else if (tookMs > 2 * BATCH_TARGET_MS) this.batchCap[batch.shard] = Math.max(1, cap >> 1);
    const out = this.out[batch.shard] as Shipped[];
    const at = out.indexOf(batch);
    if (at >= 0) out.splice(at, 1);
    this.schedulePump();
  }

  /**
   * Every leaseMs: keeps the inboxes alive (recreating one Redis lost), and re-ships a batch whose entry
   * is gone from the stream while its results never came (Redis lost both, e.g. a restart without
   * persistence). Two rounds in a row must find it gone, so a result on its way is not mistaken for a loss.
   */
  private async watch(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    try {
      // Cheap to repeat, and what a Redis that lost its data needs before workers can run our batches.
      await client.set(configKey(this.config.name, this.digest), this.batchConfig);
      await client.zadd(partitionsKey(this.config.name), 'GT', this.ctx.ring.layout.shards, 'count');
      for (let p = 0; p < this.ctx.ring.layout.shards; p++) {
        const inbox = inboxKey(this.config.name, p, this.producerId);
        if ((await client.pexpire(inbox, INBOX_TTL_MS)) === 0) {
          await client.xadd(inbox, 'MAXLEN', '0', '*', 'hello', '1');
          await client.pexpire(inbox, INBOX_TTL_MS);
        }
      }
      for (let shard = 0; shard < this.out.length; shard++) await this.reshipLost(client, shard);
    } catch (error) {
      this.failure = (error as Error).message;
    }
  }

  /**
   * Re-ships, in position order, the batches of a shard whose entries Redis lost. The shard's XADDs wait
   * meanwhile (`sending`), so no newer batch gets between them on the stream.
   */
  private async reshipLost(client: RedisClient, shard: number): Promise<void> {
    const out = this.out[shard] as Shipped[];
    if (this.sending[shard]) return;
    const lost: Shipped[] = [];
    for (const batch of out) {
      if (!batch.entryId || performance.now() - batch.shippedAt < this.config.leaseMs) continue;
      const found = await client.xrange(streamKey(this.config.name, shard), batch.entryId, batch.entryId);
      batch.missing = found.length === 0 ? batch.missing + 1 : 0;
      if (batch.missing >= 2) lost.push(batch);
    }
    // A lost batch is resent with every later one still out: they must follow it on the stream.
    const first = lost[0];
    if (!first || this.sending[shard]) return;
    const resend = out.slice(out.indexOf(first));
    this.sending[shard] = true;
    try {
      for (const batch of resend) {
        if (!out.includes(batch)) continue;
        batch.missing = 0;
        batch.entryId = undefined;
        batch.shippedAt = performance.now();
        await this.send(batch);
      }
    } finally {
      this.sending[shard] = false;
      this.schedulePump();
    }
  }
}
