// A worker's shortcut for lone messages: runs a few messages on the worker's own thread with the
// handler's JS implementation, keeping the cpu engine's semantics (consume-loop.ts: attempts counted
// before each run, up to 1 + maxRetries runs until status 0, a throw is THREW, the result only on OK).
// Through the local ring a lone message costs two cross-thread wake-ups — the consumer thread's, then
// the worker thread's — about 100–300 µs on a 2-core VM, for a handler that takes microseconds. Used
// by LocalRunner only when its engine is cpu, and given up for good once a handler proves slow (it
// would stall the worker's Redis I/O) or when the handler is `crash`, which must kill a consumer
// thread, not the worker.
import { AREA_ALIGN, alignUp } from '../../core/slot-layout.js';
import { type HandlerSpec, HandlerStatus, type JsHandler, type MessageView, type ResultView } from '../../handlers/handler.js';
import { buildJsHandler } from '../../handlers/registry.js';
import type { WireMessage, WireResult } from './wire.js';

/** Batches of at most this many messages may run inline. */
export const INLINE_MAX_MESSAGES = 4;
/** A handler that takes longer than this per message, SLOW_RUNS_TO_GIVE_UP runs in a row, runs on the consumer threads from then on. */
const INLINE_MAX_US_PER_MESSAGE = 50;
/** More than one: a handler's first runs include compiling it. */
const SLOW_RUNS_TO_GIVE_UP = 3;
const EMPTY = new Uint8Array(0);

/** Whether a handler (or one it wraps) is one that must not run on the worker's thread. */
function mustNotRunInline(spec: HandlerSpec): boolean {
  if (spec.name === 'crash') return true;
  const inner = spec.params.inner as HandlerSpec | undefined;
  return inner !== undefined && typeof inner === 'object' && mustNotRunInline(inner);
}

export class InlineRunner {
  /** False once a run proved the handler slow: every later batch goes to the consumer threads. */
  usable = true;
  private readonly handler: JsHandler;
  private readonly maxAttempts: number;
  private readonly msg: MessageView;
  private readonly out: ResultView;
  private slowRuns = 0;

  private constructor(spec: HandlerSpec, slotBytes: number, resultBytes: number, maxRetries: number) {
    this.handler = buildJsHandler(spec);
    this.maxAttempts = 1 + maxRetries;
    // One scratch slot: the payload at 0, the result at the next aligned offset (float views need it).
    const resultOffset = alignUp(slotBytes, AREA_ALIGN);
    const buffer = new ArrayBuffer(resultOffset + alignUp(Math.max(resultBytes, 4), AREA_ALIGN));
    const bytes = new Uint8Array(buffer);
    const floats = new Float32Array(buffer);
    this.msg = { bytes, floats, offset: 0, length: 0, id: 0, attempt: 0 };
    this.out = { bytes, floats, offset: resultOffset, capacity: resultBytes, length: 0 };
  }

  /** An inline runner for the handler, or undefined when it must run on consumer threads. */
  static create(spec: HandlerSpec, slotBytes: number, resultBytes: number, maxRetries: number): InlineRunner | undefined {
    return mustNotRunInline(spec) ? undefined : new InlineRunner(spec, slotBytes, resultBytes, maxRetries);
  }

  run(messages: readonly WireMessage[]): WireResult[] {
    const started = performance.now();
    const { msg, out } = this;
    const results = messages.map((m) => {
      msg.bytes.set(m.payload, 0);
      msg.length = m.payload.byteLength;
      msg.id = m.id;
      let attempt = 0;
      let status: number = HandlerStatus.FAILED;
      while (attempt < this.maxAttempts) {
        msg.attempt = attempt;
        out.length = 0;
        attempt++;
        try {
          status = this.handler(msg, out);
        } catch {
          status = HandlerStatus.THREW;
        }
        if (status === HandlerStatus.OK) break;
      }
      const data = status === HandlerStatus.OK ? out.bytes.slice(out.offset, out.offset + out.length) : EMPTY;
      return { id: m.id, handlerStatus: status, attempts: attempt, data };
    });
    const slow = (performance.now() - started) * 1000 > INLINE_MAX_US_PER_MESSAGE * messages.length;
    this.slowRuns = slow ? this.slowRuns + 1 : 0;
    if (this.slowRuns >= SLOW_RUNS_TO_GIVE_UP) this.usable = false;
    return results;
  }
}
