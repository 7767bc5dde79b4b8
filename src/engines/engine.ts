// The engine seam: the one interface every engine implements. The Queue (queue.ts) owns everything that
// is the same on every engine — argument checks, ids, producing into the ring, harvesting, results,
// retries accounting, dead letters, stats, shutdown order — and an engine is only the *consumer* of the
// shared slot ring. So semantics are written once and engines differ in how they run handlers.
import type { QueueConfig } from '../core/options.js';
import type { SlotRing } from '../core/slot-ring.js';
import type { HandlerSpec } from '../handlers/handler.js';

/**
 * A consumer of the slot ring (slot-layout.ts, docs/protocol.md).
 *
 * Lifecycle: an engine factory builds it (throwing EngineUnavailableError when it cannot run here) →
 * `start()` resolves once every consumer is ready to take slots → the Queue produces and harvests →
 * `stop()` is called after the Queue drained the ring (or gave up waiting); it sets Control.STOP, wakes
 * the consumers and resolves once every consumer has exited and every resource is freed.
 *
 * What an engine must do, for each shard it consumes (shard s belongs to consumer s % CONSUMERS):
 * - take READY slots in position order (per-key FIFO relies on it), store INFLIGHT, run the handler up
 *   to 1 + MAX_RETRIES times until it returns 0, write RESULT_LEN, HANDLER_STATUS and the result, then
 *   store `doneState(shardCapacity, position)` (DONE or DONE_ODD_LAP: the lap's parity, which is how the
 *   harvester tells this lap's DONE from the one a freed slot keeps; the store releases the result).
 *   ATTEMPTS is stored before each run and counting starts from the slot's value (the producer wrote 0):
 *   a slot re-run after its consumer died goes on counting, and one already at 1 + MAX_RETRIES is
 *   finished as CONSUMER_DIED without running;
 * - advance the shard's CONSUMER_CURSOR; bump Control.HEARTBEAT while alive;
 * - after publishing DONE, if Control.HARVEST_DOORBELL is 1, set it to 0 and notify it (the owner sleeps);
 * - take no new slot while Control.PAUSED is 1; exit when Control.STOP is 1;
 * - on a fatal fault (a dead worker, a lost GPU context) call `onFault` and leave its READY and INFLIGHT
 *   slots as they are, so the messages can be run again elsewhere (at-least-once).
 * It never writes HEAD, HARVEST_TAIL or a slot it does not hold.
 *
 * Left out on purpose: ids, results, stats, timeouts and validation (the Queue's), and producing.
 */
export interface Engine {
  readonly name: string;
  /** Resolves when the consumers are ready. */
  start(): Promise<void>;
  /** Resolves when every consumer has exited (after Control.STOP was set). */
  stop(): Promise<void>;
  /** What this engine runs on, for stats and `doctor` (e.g. `2 worker threads`). */
  describe(): string;
  /** Whether a consumer wakes the owner through HARVEST_DOORBELL (else the owner polls on a timer). */
  readonly wakesOwner: boolean;
  /** GPU engines: ms since the consumers last proved progress (the kernel's heartbeat), for stats and health. */
  heartbeatAgeMs?(): number | undefined;
  /**
   * Whether completions are written by a callback on the owner thread's own event loop (the redis bridge,
   * when a reply arrives). The owner then neither spins nor polls once per turn for them — that would
   * only hold back the callback that delivers them and burn a core — and sleeps on HARVEST_DOORBELL
   * between arrivals. **Default:** `false`
   */
  readonly completesOnOwnerThread?: boolean;
}

export interface EngineContext {
  ring: SlotRing;
  handler: HandlerSpec;
  config: QueueConfig;
  /** Called once if the consumers die; the Queue then fails pending calls and keeps the messages. */
  onFault(error: Error): void;
  /**
   * Harvests DONE slots now, on the calling thread, which must be the owner thread: for an engine that
   * completes slots there (`completesOnOwnerThread`), so a result reaches its waiter in the same turn
   * instead of after a doorbell wake-up and a scheduled pass.
   */
  harvestNow?(): void;
}
