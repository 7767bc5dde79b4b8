// echo: the result is the payload, byte for byte. The simplest handler, and the one that shows raw
// queue overhead.
import type { HandlerDefinition } from '../handler.js';
import { HandlerStatus } from '../handler.js';

export const echo: HandlerDefinition = {
  name: 'echo',
  summary: 'returns the payload unchanged',
  params: () => ({}),
  js: () => (msg, out) => {
    if (msg.length > out.capacity) return HandlerStatus.RESULT_TOO_LARGE;
    out.bytes.copyWithin(out.offset, msg.offset, msg.offset + msg.length);
    out.length = msg.length;
    return HandlerStatus.OK;
  },
};
