// crash: wraps another handler and kills its consumer (the worker thread; on a GPU, the context) on chosen
// messages, decided by id like `fault`, for the first `crashAttempts` attempts. It exists to test that a
// dying consumer loses nothing: the message is re-run elsewhere, and one that keeps killing consumers is
// dead-lettered (CONSUMER_DIED) after 1 + maxRetries attempts. With `how: 'hang'` the handler never
// returns instead (a worker thread blocks for good; a GPU block spins): the test of a GPU engine's
// watchdog (the cpu engine has none, so a hang there lasts until the process ends).
import { describeValue, InvalidArgumentError } from '../../core/errors.js';
import { checkByIdSelection, faultHash, faultThreshold } from '../fault/fault.js';
import type { HandlerDefinition, HandlerParams } from '../handler.js';

export interface CrashParams extends HandlerParams {
  inner: { name: string; params: HandlerParams };
  crashRate: number;
  crashAttempts: number;
  seed: number;
  how: 'exit' | 'hang';
}

/** Whether the crash handler kills its consumer on this attempt of this message (the reference for tests). */
export const crashes = (id: number, attempt: number, p: Pick<CrashParams, 'crashRate' | 'crashAttempts' | 'seed'>): boolean =>
  attempt < p.crashAttempts && faultHash(id, p.seed) < faultThreshold(p.crashRate);

export const crash: HandlerDefinition<CrashParams> = {
  name: 'crash',
  summary: 'wraps `inner`; kills its consumer on a `crashRate` fraction of messages (by id) for `crashAttempts` attempts',
  wrapsInner: true,
  params: (input) => {
    const {
      rate: crashRate,
      attempts: crashAttempts,
      seed,
    } = checkByIdSelection('crash', input, {
      rate: ['crashRate', 0.001],
      attempts: ['crashAttempts', 1],
      seed: 1,
    });
    const how = input.how ?? 'exit';
    if (how !== 'exit' && how !== 'hang')
      throw new InvalidArgumentError(`crash handler: how must be 'exit' or 'hang'; got ${describeValue(how)}`);
    return { inner: input.inner as CrashParams['inner'], crashRate, crashAttempts, seed, how };
  },
  js: (p, inner) => {
    const run = inner as NonNullable<typeof inner>;
    return (msg, out) => {
      if (crashes(msg.id, msg.attempt, p)) {
        // In a worker thread, process.exit ends that thread only: the consumer dies mid-message.
        if (p.how === 'exit') process.exit(70);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // nobody ever notifies it
      }
      return run(msg, out);
    };
  },
};
