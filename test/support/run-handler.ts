// Runs a handler's JS implementation the way a consumer does: views over one buffer, the payload and the
// result area 16-aligned, the result capacity chosen by the test. Nothing here registers tests.

import type { HandlerOption } from '../../src/core/options.js';
import { alignUp } from '../../src/core/slot-layout.js';
import type { MessageView, ResultView } from '../../src/handlers/handler.js';
import { buildJsHandler, resolveHandler } from '../../src/handlers/registry.js';

export interface HandlerRun {
  status: number;
  result: Uint8Array;
}

/** Builds the handler once; each call runs it on one payload (id and attempt as the consumer gives them). */
export function handlerRunner(
  option: HandlerOption,
  resultCapacity = 4096,
): (payload: Uint8Array, id?: number, attempt?: number) => HandlerRun {
  const handler = buildJsHandler(resolveHandler(option));
  return (payload, id = 1, attempt = 0) => {
    const payloadAt = 16;
    const resultAt = alignUp(payloadAt + payload.length, 16);
    const buffer = new ArrayBuffer(resultAt + alignUp(resultCapacity, 16) + 16);
    const bytes = new Uint8Array(buffer);
    const floats = new Float32Array(buffer);
    bytes.fill(0xee); // so a result that is not written shows
    bytes.set(payload, payloadAt);
    const msg: MessageView = { bytes, floats, offset: payloadAt, length: payload.length, id, attempt };
    const out: ResultView = { bytes, floats, offset: resultAt, capacity: resultCapacity, length: 0 };
    const status = handler(msg, out);
    return { status, result: bytes.slice(resultAt, resultAt + out.length) };
  };
}
