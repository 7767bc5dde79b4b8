// A worker's local engine: a ring of its own consumed by a cpu or cuda engine, driven through the engine
// seam (engine.ts) like the Queue drives it. Driving the seam rather than a public Queue keeps each
// message's own id in its slot, so handlers that depend on the id (fault injection) fail exactly the
// messages they fail on every other engine, and attempts / handler statuses come back as the consumer
// wrote them. Messages of one key go to one local shard in batch order (per-key FIFO holds here too).
import { type QueueConfig, resolveOptions } from '../../core/options.js';
import { mix32 } from '../../core/partitioners.js';
import { wallClockMs } from '../../core/producer.js';
import { Control, SlotFlag, SlotOutcome, slotOf } from '../../core/slot-layout.js';
import { SlotRing } from '../../core/slot-ring.js';
import type { HandlerSpec } from '../../handlers/handler.js';
import type { Engine } from '../engine.js';
import { type EnginePlan, planEngine } from '../select.js';
import { INLINE_MAX_MESSAGES, InlineRunner } from './inline-runner.js';
import type { WireMessage, WireResult } from './wire.js';

export interface LocalRunnerOptions {
  /** The local engine: `auto` picks the best one usable here. */
  backend: string;
  handler: HandlerSpec;
  slotBytes: number;
  resultBytes: number;
  maxRetries: number;
  /** Slots of the local ring (a power of two). */
  capacity: number;
  /** Consumer threads of a cpu engine. */
  threads: number | undefined;
}

interface Tracker {
  results: WireResult[];
  left: number;
  resolve(results: WireResult[]): void;
  reject(error: Error): void;
}

const EMPTY = new Uint8Array(0);
/** The doorbell sleep's safety net while results are awaited. */
const SLEEP_MS = 20;

export class LocalRunner {
  readonly engineName: string;
  private readonly ring: SlotRing;
  private readonly engine: Engine;
  /** Slot byte offset → who waits for that slot's outcome. A slot is not reused before it is harvested. */
  private readonly waiting = new Map<number, { tracker: Tracker; index: number }>();
  private readonly spaceWaiters: (() => void)[] = [];
  private harvesting = false;
  private nextShard = 0;
  private fault: Error | undefined;
  private readonly visit = (slot: number) => this.complete(slot);
  /** Lone messages on this thread (cpu engine only; see inline-runner.ts). */
  private readonly inline: InlineRunner | undefined;

  private constructor(options: LocalRunnerOptions, config: QueueConfig, plan: EnginePlan) {
    this.engineName = plan.name;
    this.ring = SlotRing.create(
      {
        shards: plan.shards,
        consumers: plan.consumers,
        shardCapacity: config.capacity / plan.shards,
        slotBytes: options.slotBytes,
        resultBytes: options.resultBytes,
      },
      options.maxRetries,
    );
    this.engine = plan.create({ ring: this.ring, handler: options.handler, config, onFault: (e) => this.onFault(e) });
    this.inline =
      plan.name === 'cpu' ? InlineRunner.create(options.handler, options.slotBytes, options.resultBytes, options.maxRetries) : undefined;
  }

  static async open(options: LocalRunnerOptions): Promise<LocalRunner> {
    const config = resolveOptions({
      backend: options.backend,
      capacity: options.capacity,
      slotBytes: options.slotBytes,
      resultBytes: options.resultBytes,
      maxRetries: options.maxRetries,
      ...(options.threads === undefined ? {} : { workers: options.threads }),
    });
    const runner = new LocalRunner(options, config, await planEngine(config));
    await runner.engine.start();
    return runner;
  }

  describe(): string {
    return `${this.engine.name} (${this.engine.describe()})`;
  }

  get busy(): boolean {
    return this.waiting.size > 0;
  }

  /** Runs a batch; resolves with one result per message, in batch order. */
  async run(messages: readonly WireMessage[]): Promise<WireResult[]> {
    if (this.fault) throw this.fault;
    if (messages.length === 0) return [];
    // Nothing of ours in the ring (so nothing to overtake): a lone message skips two thread hops.
    if (this.inline?.usable && messages.length <= INLINE_MAX_MESSAGES && this.waiting.size === 0) return this.inline.run(messages);
    let tracker: Tracker | undefined;
    const promise = new Promise<WireResult[]>((resolve, reject) => {
      tracker = { results: new Array(messages.length), left: messages.length, resolve, reject };
    });
    const shards = this.ring.layout.shards;
    const now = wallClockMs();
    // Slots are published per shard once the batch (or the part that fit) is written: one READY run and
    // at most one doorbell ring per shard, instead of a wake-up per message. This runner is its ring's
    // only producer, so what it claims in one synchronous stretch is contiguous in each shard.
    const runStart = new Array<number>(shards).fill(0);
    const runLength = new Array<number>(shards).fill(0);
    const flush = () => {
      for (let s = 0; s < shards; s++) {
        if (runLength[s] === 0) continue;
        this.ring.publish(s, runStart[s] as number, runLength[s] as number);
        runLength[s] = 0;
      }
    };
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as WireMessage;
      const hasKey = (m.flags & SlotFlag.HAS_KEY) !== 0;
      let shard: number;
      if (hasKey) shard = mix32(m.keyHash) % shards;
      else {
        shard = this.nextShard;
        this.nextShard = (shard + 1) % shards;
      }
      let position = this.ring.claim(shard, 1);
      while (position < 0) {
        // The local ring is full: publish what is written, wait for a harvest. Messages are written in
        // batch order, so a key's messages still enter their shard in order.
        flush();
        await new Promise<void>((wake) => {
          this.spaceWaiters.push(wake);
          this.harvest();
        });
        if (this.fault) {
          tracker?.reject(this.fault);
          return promise;
        }
        position = this.ring.claim(shard, 1);
      }
      this.ring.write(shard, position, m.payload, m.id, m.keyHash, hasKey, now);
      this.waiting.set(slotOf(this.ring.layout, shard, position), { tracker: tracker as Tracker, index: i });
      if (runLength[shard] === 0) runStart[shard] = position;
      runLength[shard] = (runLength[shard] as number) + 1;
    }
    flush();
    this.harvest();
    return promise;
  }

  async stop(): Promise<void> {
    // Refuse new batches first: one written now would never be run.
    this.fault ??= new Error('the local engine stopped');
    this.ring.setControl(Control.CLOSED, 1);
    await this.engine.stop();
    this.onFault(this.fault);
  }

  /** Harvests while anyone waits: once per event-loop turn while slots complete, else asleep on the doorbell. */
  private harvest(): void {
    if (this.harvesting) return;
    this.harvesting = true;
    const loop = async () => {
      const { ring } = this;
      while ((this.waiting.size > 0 || this.spaceWaiters.length > 0) && !this.fault) {
        let n = 0;
        for (let s = 0; s < ring.layout.shards; s++) n += ring.harvest(s, Number.POSITIVE_INFINITY, this.visit);
        if (n > 0) {
          ring.wakeSpaceWaiters();
          for (const wake of this.spaceWaiters.splice(0)) wake();
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        Atomics.store(ring.i32, Control.HARVEST_DOORBELL, 1);
        if (!this.anyDone()) {
          const waited = Atomics.waitAsync(ring.i32, Control.HARVEST_DOORBELL, 1, SLEEP_MS);
          if (waited.async) await waited.value;
        }
        Atomics.store(ring.i32, Control.HARVEST_DOORBELL, 0);
      }
      this.harvesting = false;
    };
    loop();
  }

  private anyDone(): boolean {
    for (let s = 0; s < this.ring.layout.shards; s++) {
      if (this.ring.doneAt(s, this.ring.harvestTail(s))) return true;
    }
    return false;
  }

  private complete(slot: number): void {
    const entry = this.waiting.get(slot);
    if (!entry) return;
    this.waiting.delete(slot);
    const { ring } = this;
    const handlerStatus = ring.outcome(slot, SlotOutcome.HANDLER_STATUS);
    entry.tracker.results[entry.index] = {
      id: ring.idAt(slot),
      handlerStatus,
      attempts: ring.outcome(slot, SlotOutcome.ATTEMPTS),
      data: handlerStatus === 0 ? ring.resultAt(slot).slice() : EMPTY,
    };
    if (--entry.tracker.left === 0) entry.tracker.resolve(entry.tracker.results);
  }

  private onFault(error: Error): void {
    this.fault ??= error;
    const trackers = new Set([...this.waiting.values()].map((w) => w.tracker));
    this.waiting.clear();
    for (const t of trackers) t.reject(this.fault);
    for (const wake of this.spaceWaiters.splice(0)) wake();
  }
}
