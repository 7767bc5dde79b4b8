// The cpu engine's consumer: runs on a worker thread, owns some shards of the ring and runs the handler's
// JS implementation on their READY slots, in order, with no message passing on the hot path. When idle it
// spins for `spinUs`, then sleeps on its doorbell (Atomics.wait) until a producer rings it.
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
import type { SlotRing } from '../../core/slot-ring.js';
import type { JsHandler, MessageView, ResultView } from '../../handlers/handler.js';
import { HandlerStatus } from '../../handlers/handler.js';

/** Slots taken from one shard before looking at the others (fairness between owned shards). */
const RUN_LENGTH = 256;
/** Longest sleep before re-checking STOP even without a wake-up (a safety net, not the wake path). */
const SLEEP_CHECK_MS = 100;

export function consumeShards(ring: SlotRing, shards: number[], handler: JsHandler, spinUs: number): void {
  const { i32 } = ring;
  const layout = ring.layout;
  const msg: MessageView = { bytes: ring.u8, floats: ring.f32, offset: 0, length: 0, id: 0, attempt: 0 };
  const out: ResultView = { bytes: ring.u8, floats: ring.f32, offset: 0, capacity: layout.resultBytes, length: 0 };
  const cursors = shards.map((s) => ring.resumeShard(s));
  const doorbell = consumerDoorbellWord(layout, shards[0] as number);
  // When this thread's shards are not exactly one consumer's (a fallback engine with another thread count),
  // producers ring another doorbell: then sleep briefly instead of trusting the wake-up.
  const sleepMs = shards.every((s) => consumerDoorbellWord(layout, s) === doorbell) ? SLEEP_CHECK_MS : 1;
  const maxAttempts = 1 + (Atomics.load(i32, Control.MAX_RETRIES) as number);
  let idleSince = -1;

  /** Runs the handler on one INFLIGHT slot (with its retries), writes the outcome, publishes DONE. */
  const runSlot = (slot: number, position: number): void => {
    const h = headerWord(layout, slot);
    const w = outcomeWord(layout, slot);
    msg.offset = payloadByte(layout, slot);
    msg.length = i32[h + SlotHeader.PAYLOAD_LEN] as number;
    msg.id = (i32[h + SlotHeader.ID_HI] as number) * 4294967296 + ((i32[h + SlotHeader.ID_LO] as number) >>> 0);
    out.offset = resultByte(layout, slot);
    // Attempts are counted in the slot before each run, so a slot re-run after its consumer died goes on
    // counting, and a message that keeps killing consumers ends as a dead letter instead of a crash loop.
    let attempt = i32[w + SlotOutcome.ATTEMPTS] as number;
    let status: number = attempt > 0 ? HandlerStatus.CONSUMER_DIED : HandlerStatus.FAILED;
    while (attempt < maxAttempts) {
      msg.attempt = attempt;
      out.length = 0;
      attempt++;
      Atomics.store(i32, w + SlotOutcome.ATTEMPTS, attempt);
      try {
        status = handler(msg, out);
      } catch {
        status = HandlerStatus.THREW;
      }
      if (status === HandlerStatus.OK) break;
    }
    i32[w + SlotOutcome.ATTEMPTS] = attempt;
    i32[w + SlotOutcome.HANDLER_STATUS] = status;
    i32[w + SlotOutcome.RESULT_LEN] = status === HandlerStatus.OK ? out.length : 0;
    // Release: the result and the fields above become visible with DONE.
    Atomics.store(i32, stateWord(layout, slot), doneState(layout.shardCapacity, position));
  };

  for (;;) {
    if (Atomics.load(i32, Control.STOP) === 1) return;
    if (Atomics.load(i32, Control.PAUSED) === 1) {
      Atomics.wait(i32, Control.PAUSED, 1, SLEEP_CHECK_MS);
      continue;
    }
    let done = 0;
    for (let k = 0; k < shards.length; k++) {
      const shard = shards[k] as number;
      let cursor = cursors[k] as number;
      const start = cursor;
      while (((cursor - start) | 0) < RUN_LENGTH) {
        const slot = slotOf(layout, shard, cursor);
        const state = stateWord(layout, slot);
        // Acquire: READY was stored after the payload was written.
        if (Atomics.load(i32, state) !== SlotState.READY) break;
        // STOP and PAUSED are honoured between messages, not only between runs (a slow handler's run is long).
        if (Atomics.load(i32, Control.STOP) === 1 || Atomics.load(i32, Control.PAUSED) === 1) break;
        Atomics.store(i32, state, SlotState.INFLIGHT);
        runSlot(slot, cursor);
        cursor = (cursor + 1) | 0;
      }
      if (cursor !== start) {
        cursors[k] = cursor;
        Atomics.store(i32, shardWord(shard, ShardControl.CONSUMER_CURSOR), cursor);
        done += (cursor - start) | 0;
      }
    }
    if (done > 0) {
      Atomics.add(i32, Control.HEARTBEAT, 1);
      if (Atomics.load(i32, Control.HARVEST_DOORBELL) === 1) {
        Atomics.store(i32, Control.HARVEST_DOORBELL, 0);
        Atomics.notify(i32, Control.HARVEST_DOORBELL);
      }
      idleSince = -1;
      continue;
    }
    const now = performance.now();
    if (idleSince < 0) idleSince = now;
    if ((now - idleSince) * 1000 < spinUs) continue;
    // Sleep. Set the doorbell first, then look once more: a producer either sees the doorbell (and
    // notifies) or published before our re-check (and we see READY).
    Atomics.store(i32, doorbell, 1);
    if (!anyReady(ring, shards, cursors) && Atomics.load(i32, Control.STOP) !== 1) {
      Atomics.wait(i32, doorbell, 1, sleepMs);
    }
    Atomics.store(i32, doorbell, 0);
    idleSince = -1;
  }
}

function anyReady(ring: SlotRing, shards: number[], cursors: number[]): boolean {
  for (let k = 0; k < shards.length; k++) {
    if (ring.stateAt(shards[k] as number, cursors[k] as number) === SlotState.READY) return true;
  }
  return false;
}
