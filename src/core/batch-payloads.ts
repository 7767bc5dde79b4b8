// A batch of payloads as `enqueueBatch` takes it: one view per payload, or packed in one buffer.

/**
 * Many payloads in one buffer, with no view per payload: payload `i` is
 * `bytes[starts[i] … starts[i] + lengths[i])`. For callers that receive a batch as one buffer (the
 * server's length-prefixed frames): each payload is copied straight from it into its slot.
 */
export interface PackedPayloads {
  bytes: Uint8Array;
  starts: Uint32Array;
  lengths: Uint32Array;
}

/** A batch as given to `enqueueBatch`: one view per payload, or packed. */
export type BatchPayloads = Uint8Array[] | PackedPayloads;

export const batchCount = (payloads: BatchPayloads): number => (Array.isArray(payloads) ? payloads.length : payloads.starts.length);

/** Payload `i` of a batch (for a packed one, a short-lived view made as it is copied into its slot). */
export function payloadAt(payloads: BatchPayloads, i: number): Uint8Array {
  if (Array.isArray(payloads)) return payloads[i] as Uint8Array;
  const start = payloads.starts[i] as number;
  return payloads.bytes.subarray(start, start + (payloads.lengths[i] as number));
}
