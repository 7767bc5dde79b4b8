// The Piscina worker: the same FNV-1a the gpuqueue checksum handler runs (imported from gpuqueue), per
// message (the default export) and over a hand-packed batch (`checksumBatch`: fixed-stride payloads in
// one ArrayBuffer in, a Uint32Array of checksums moved back out).
import { fnv1a } from 'gpuqueue';
import { move } from 'piscina';

export default function checksumOne(payload: Uint8Array): number {
  return fnv1a(payload);
}

export interface PackedBatch {
  buffer: ArrayBuffer;
  count: number;
  /** Bytes per payload: payload i is bytes [i × stride, (i + 1) × stride). */
  stride: number;
}

export function checksumBatch({ buffer, count, stride }: PackedBatch): Uint32Array {
  const bytes = new Uint8Array(buffer);
  const sums = new Uint32Array(count);
  for (let i = 0, at = 0; i < count; i++, at += stride) sums[i] = fnv1a(bytes, at, at + stride);
  return move(sums) as unknown as Uint32Array;
}
