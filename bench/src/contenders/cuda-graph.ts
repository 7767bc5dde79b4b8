// CUDA Graph replay per batch: the copy-launch-copy of cuda-launch captured once per lane with stream
// capture, then one cuGraphLaunch per batch (cuda-batch.ts). Round trip: a batch of one through the graph.
import { baselineContender } from '../cuda-batch.js';

export const { setup, run, roundTrip, teardown } = baselineContender('graph');
