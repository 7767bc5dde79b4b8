// fault: wraps another handler and fails a chosen fraction of messages, decided by the message id alone,
// so every engine fails the same messages and a test can count the dead letters it must get. A message
// fails while `attempt < failAttempts` (default: always, so it ends as a dead letter).
import { describeValue, InvalidArgumentError } from '../../core/errors.js';
import { mix32 } from '../../core/partitioners.js';
import type { HandlerDefinition, HandlerParams } from '../handler.js';
import { HandlerStatus } from '../handler.js';

export interface FaultParams extends HandlerParams {
  inner: { name: string; params: HandlerParams };
  failRate: number;
  /** Attempts that fail for a chosen message; `Infinity` = every attempt. */
  failAttempts: number;
  seed: number;
}

const TWO_POW_32 = 4294967296;

/** The id's 32-bit fault hash: the same on every engine (the CUDA and WGSL twins compute this). */
export function faultHash(id: number, seed: number): number {
  const lo = id >>> 0;
  const hi = Math.floor(id / TWO_POW_32) >>> 0;
  return mix32(lo ^ Math.imul(hi ^ seed, 0x9e3779b9));
}

/** Failing messages are those whose hash is below failRate × 2³². */
export const faultThreshold = (failRate: number): number => Math.min(TWO_POW_32, Math.floor(failRate * TWO_POW_32));

/** Whether the fault handler fails this attempt of this message (the reference for tests). */
export function faultFails(id: number, attempt: number, p: Pick<FaultParams, 'failRate' | 'failAttempts' | 'seed'>): boolean {
  return attempt < p.failAttempts && faultHash(id, p.seed) < faultThreshold(p.failRate);
}

/**
 * The parameters shared by handlers that pick messages by id (fault, crash): a rate from 0 to 1, how many
 * attempts are hit (an integer or Infinity) and a 32-bit seed, each checked with a message naming it.
 */
export function checkByIdSelection(
  handler: string,
  input: HandlerParams,
  names: { rate: [string, number]; attempts: [string, number]; seed: number },
): { rate: number; attempts: number; seed: number } {
  const [rateName, rateDefault] = names.rate;
  const rate = input[rateName] ?? rateDefault;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
    throw new InvalidArgumentError(`${handler} handler: ${rateName} must be a number from 0 to 1; got ${describeValue(rate)}`);
  }
  const [attemptsName, attemptsDefault] = names.attempts;
  const attempts = input[attemptsName] ?? attemptsDefault;
  if (typeof attempts !== 'number' || !(attempts === Number.POSITIVE_INFINITY || (Number.isInteger(attempts) && attempts >= 0))) {
    throw new InvalidArgumentError(
      `${handler} handler: ${attemptsName} must be an integer ≥ 0 or Infinity; got ${describeValue(attempts)}`,
    );
  }
  const seed = input.seed ?? names.seed;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
    throw new InvalidArgumentError(`${handler} handler: seed must be an integer from 0 to 2^32 - 1; got ${describeValue(seed)}`);
  }
  return { rate, attempts, seed };
}

export const fault: HandlerDefinition<FaultParams> = {
  name: 'fault',
  summary: 'wraps `inner`; fails a `failRate` fraction of messages (by id) for `failAttempts` attempts',
  wrapsInner: true,
  params: (input) => {
    const {
      rate: failRate,
      attempts: failAttempts,
      seed,
    } = checkByIdSelection('fault', input, {
      rate: ['failRate', 0.01],
      attempts: ['failAttempts', Number.POSITIVE_INFINITY],
      seed: 0,
    });
    return { inner: input.inner as FaultParams['inner'], failRate, failAttempts, seed };
  },
  js: (p, inner) => {
    const threshold = faultThreshold(p.failRate);
    const run = inner as NonNullable<typeof inner>;
    return (msg, out) => {
      if (msg.attempt < p.failAttempts && faultHash(msg.id, p.seed) < threshold) return HandlerStatus.FAILED;
      return run(msg, out);
    };
  },
};
