// checksum: 32-bit FNV-1a of the payload, as 4 little-endian bytes. The benchmark workload (UC-1): tiny
// compute per message, so queue overhead dominates.
import type { HandlerDefinition } from '../handler.js';
import { HandlerStatus } from '../handler.js';

export const FNV1A_OFFSET = 0x811c9dc5;
export const FNV1A_PRIME = 0x01000193;

/** FNV-1a over bytes[from, to): the reference every engine's checksum must equal. */
export function fnv1a(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let h = FNV1A_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ (bytes[i] as number), FNV1A_PRIME);
  return h >>> 0;
}

export const checksum: HandlerDefinition = {
  name: 'checksum',
  summary: 'FNV-1a 32-bit hash of the payload (4 bytes, little-endian)',
  params: () => ({}),
  resultBytes: () => 4,
  js: () => (msg, out) => {
    if (out.capacity < 4) return HandlerStatus.RESULT_TOO_LARGE;
    const h = fnv1a(msg.bytes, msg.offset, msg.offset + msg.length);
    const o = out.offset;
    out.bytes[o] = h & 0xff;
    out.bytes[o + 1] = (h >>> 8) & 0xff;
    out.bytes[o + 2] = (h >>> 16) & 0xff;
    out.bytes[o + 3] = h >>> 24;
    out.length = 4;
    return HandlerStatus.OK;
  },
};
