// What a handler is: a name, a JS implementation and room for its CUDA and WGSL twins. The JS signature
// mirrors the device one of seed 004 §4 (`process_message(const MsgView&, ResultView*)` returning a
// status): views over the ring, reused between messages, so the hot loop allocates nothing.

export { describeHandlerStatus, HandlerStatus } from '../core/handler-status.js';

/** The message being handled. `bytes` spans the whole ring; the payload is `bytes[offset, offset + length)`. */
export interface MessageView {
  bytes: Uint8Array;
  /** The same memory as 32-bit floats; the payload starts at float index `offset / 4` (offsets are 16-aligned). */
  floats: Float32Array;
  offset: number;
  length: number;
  id: number;
  /** 0 on the first run, then 1, 2, … on retries. */
  attempt: number;
}

/** Where the result goes: `bytes[offset, offset + capacity)`; the handler sets `length`. */
export interface ResultView {
  bytes: Uint8Array;
  floats: Float32Array;
  offset: number;
  capacity: number;
  length: number;
}

export type JsHandler = (msg: MessageView, out: ResultView) => number;

/** Plain-data parameters of a handler, the same on every thread and engine. */
export type HandlerParams = Record<string, unknown>;

export interface HandlerDefinition<P extends HandlerParams = HandlerParams> {
  name: string;
  summary: string;
  /** Checks and completes user parameters; throws InvalidArgumentError naming the bad one. */
  params(input: HandlerParams): P;
  /** Result bytes the handler needs for a payload of `slotBytes` (undefined: use `slotBytes`). */
  resultBytes?(slotBytes: number, params: P): number;
  /** Builds the JS implementation (called once per consumer thread); wrappers get their inner handler built. */
  js(params: P, inner?: JsHandler): JsHandler;
  /** Wrappers name the handler they wrap in the `inner` parameter. */
  wrapsInner?: boolean;
  /** CUDA device function file beside this handler, when it has one. */
  cudaSource?: string;
  /** WGSL function file beside this handler, when it has one. */
  wgslSource?: string;
}

/** A handler chosen for a queue: its definition's name and checked parameters, sent to every consumer. */
export interface HandlerSpec {
  name: string;
  params: HandlerParams;
}
