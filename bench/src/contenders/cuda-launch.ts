// Launch per batch, by hand: copy the packed batch in, launch one thread per message, copy the results
// back, three driver calls per batch (cuda-batch.ts). Round trip: a batch of one through the same calls.
import { baselineContender } from '../cuda-batch.js';

export const { setup, run, roundTrip, teardown } = baselineContender('launch');
