// What the contract suite's cases share: the engine under test, opening a queue that is always shut down,
// seeded payloads, collecting completions with a deadline, and the fault handler's expected outcome per id.
// Nothing here registers tests, so node --test sees this file as an empty one.
import assert from 'node:assert/strict';
import { type Completion, faultFails, open, type Queue, type QueueOptions } from '../../src/index.js';

export interface ContractEngine {
  name: string;
  options: QueueOptions;
  /** Set when the engine cannot run here: every case is then reported as skipped with this reason. */
  skipReason?: string;
  /**
   * The engine takes every READY slot of a shard at once (a GPU block runs a whole run in parallel), so
   * "a backlog" can all be in flight: cases then check only what holds for any consumer.
   */
  runsShardInParallel?: boolean;
}

/** Registers one contract case: skipped with the engine's reason when it has one, failed when it hangs. */
export type CaseRegistrar = (name: string, body: () => Promise<void>) => void;

/** Longest any single case may run before node:test fails it (a hang is a failure, never a stuck run). */
export const CASE_TIMEOUT_MS = 60_000;
/** How long a collect loop waits for completions before it fails with what it got. */
const COLLECT_DEADLINE_MS = 30_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a queue on the engine (test options win over the engine's), runs `body`, and always shuts it down. */
export async function withQueue<T>(engine: ContractEngine, options: QueueOptions, body: (q: Queue) => Promise<T>): Promise<T> {
  const q = await open({ ...engine.options, ...options });
  try {
    return await body(q);
  } finally {
    await q.shutdown({ timeoutMs: 10_000 });
  }
}

/** mulberry32: a small seeded generator, so a failing case replays the same payloads. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randomInt = (rand: () => number, below: number): number => Math.floor(rand() * below);

export function randomBytes(rand: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = randomInt(rand, 256);
  return bytes;
}

/** Little-endian uint32 fields as a payload (e.g. [thread, sequence]), padded to `length` bytes. */
export function u32Payload(values: number[], length = values.length * 4): Uint8Array {
  const bytes = new Uint8Array(Math.max(length, values.length * 4));
  const view = new DataView(bytes.buffer);
  for (const [i, v] of values.entries()) view.setUint32(i * 4, v, true);
  return bytes;
}

export function readU32(bytes: Uint8Array, index: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(index * 4, true);
}

/** The checksum handler's result for a payload: FNV-1a 32 as 4 little-endian bytes. */
export function checksumBytes(hash: number): Uint8Array {
  return u32Payload([hash >>> 0]);
}

/** Takes `n` completions with pollCompletions, yielding to the event loop while none are ready. */
export async function collectByPolling(q: Queue, n: number): Promise<Completion[]> {
  const out: Completion[] = [];
  const deadline = performance.now() + COLLECT_DEADLINE_MS;
  while (out.length < n) {
    const got = q.pollCompletions(Math.min(4096, n - out.length));
    for (const c of got) out.push(c);
    if (got.length > 0) continue;
    if (performance.now() > deadline)
      assert.fail(`pollCompletions gave ${out.length} of ${n} completions within ${COLLECT_DEADLINE_MS} ms`);
    await sleep(1);
  }
  return out;
}

/** Takes `n` completions from the `completions()` iterator. */
export async function collectByIterator(q: Queue, n: number): Promise<Completion[]> {
  const out: Completion[] = [];
  if (n === 0) return out;
  for await (const c of q.completions({ signal: AbortSignal.timeout(COLLECT_DEADLINE_MS) })) {
    out.push(c);
    if (out.length === n) break;
  }
  assert.equal(out.length, n, `the completions() iterator gave ${out.length} of ${n} completions within ${COLLECT_DEADLINE_MS} ms`);
  return out;
}

export interface FaultSpec {
  failRate: number;
  failAttempts: number;
  seed?: number;
}

/** Handler runs the fault handler makes for a message: the first attempt that passes, else every one. */
export function expectedAttempts(id: number, fault: FaultSpec, maxRetries: number): { attempts: number; dead: boolean } {
  const params = { failRate: fault.failRate, failAttempts: fault.failAttempts, seed: fault.seed ?? 0 };
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (!faultFails(id, attempt, params)) return { attempts: attempt + 1, dead: false };
  }
  return { attempts: maxRetries + 1, dead: true };
}

/** Runs `call` and returns what it threw or rejected with; fails when it succeeds. Sync throws count too. */
export async function failureOf(call: () => unknown): Promise<Error & { code?: string }> {
  try {
    await call();
  } catch (error) {
    return error as Error & { code?: string };
  }
  return assert.fail('expected the call to fail, but it succeeded');
}

/** Asserts a failure's class, stable code and message (a string is matched exactly, a RegExp by search). */
export function assertFailure(
  error: Error & { code?: string },
  expected: { name: string; code: string; message?: string | RegExp },
  what: string,
): void {
  assert.equal(error.name, expected.name, `${what}: error class (message: ${error.message})`);
  assert.equal(error.code, expected.code, `${what}: error code`);
  if (typeof expected.message === 'string') assert.equal(error.message, expected.message, `${what}: message`);
  else if (expected.message) assert.match(error.message, expected.message, `${what}: message`);
}

/** Groups completion ids by key in the order they completed. */
export function idsByKeyInCompletionOrder<K>(completions: Completion[], keyOf: Map<number, K>): Map<K, number[]> {
  const out = new Map<K, number[]>();
  for (const c of completions) {
    if (!keyOf.has(c.id)) continue;
    const key = keyOf.get(c.id) as K;
    const list = out.get(key);
    if (list) list.push(c.id);
    else out.set(key, [c.id]);
  }
  return out;
}

/** Asserts each id appears exactly once among the completions, and no other id does. */
export function assertEachIdOnce(completions: Completion[], ids: number[]): void {
  const seen = new Map<number, number>();
  for (const c of completions) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(twice, [], 'ids completed more than once');
  const expected = new Set(ids);
  const missing = ids.filter((id) => !seen.has(id));
  const stray = [...seen.keys()].filter((id) => !expected.has(id));
  assert.deepEqual(missing, [], 'ids that never completed');
  assert.deepEqual(stray, [], 'completions for ids that were never enqueued');
}
