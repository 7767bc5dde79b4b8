// slow: wraps another handler and busy-waits `delayUs` before each message, so a test or benchmark can
// make the consumer slower than the producer (backpressure, UC-6) without sleeping threads.
import { describeValue, InvalidArgumentError } from '../../core/errors.js';
import type { HandlerDefinition, HandlerParams } from '../handler.js';

export interface SlowParams extends HandlerParams {
  inner: { name: string; params: HandlerParams };
  delayUs: number;
}

export const slow: HandlerDefinition<SlowParams> = {
  name: 'slow',
  summary: 'wraps `inner`; spends `delayUs` microseconds on every message first',
  wrapsInner: true,
  params: (input) => {
    const delayUs = input.delayUs ?? 100;
    if (typeof delayUs !== 'number' || !Number.isFinite(delayUs) || delayUs < 0 || delayUs > 10_000_000) {
      throw new InvalidArgumentError(`slow handler: delayUs must be a number from 0 to 10000000; got ${describeValue(delayUs)}`);
    }
    return { inner: input.inner as SlowParams['inner'], delayUs };
  },
  js: (p, inner) => {
    const run = inner as NonNullable<typeof inner>;
    const delayMs = p.delayUs / 1000;
    return (msg, out) => {
      const until = performance.now() + delayMs;
      while (performance.now() < until) {
        // busy-wait on purpose: this handler stands for compute
      }
      return run(msg, out);
    };
  },
};
