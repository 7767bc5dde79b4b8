// The multi-producer protocol stress (scripts/gpu-stress.mjs: producer threads on a small ring that wraps
// many times, retries, pause/resume, shutdown while producers run; every message accounted for, results
// checked, per-key order kept), on the GPU (the cuda engine). Skipped, with the reason, without a usable GPU.
import { test } from 'node:test';
import { cudaSkip } from '../support/gpu-skip.js';
import { assertStressClean } from '../support/stress.js';

const skip = cudaSkip('cuda stress test');

test('producer threads, wrap-around, retries, pause/resume and shutdown mid-flight lose nothing (cuda)', { skip }, () =>
  assertStressClean({ backend: 'cuda', producers: 8, messages: 5000, capacity: 1024 }),
);
