// The multi-producer protocol stress (scripts/gpu-stress.mjs: producer threads on a small ring that wraps
// many times, retries, pause/resume, shutdown while producers run; every message accounted for, results
// checked, per-key order kept), here on the cpu engine; cuda-stress.cuda.test.ts runs it on the GPU.
import { test } from 'node:test';
import { assertStressClean } from '../support/stress.js';

test('producer threads, wrap-around, retries, pause/resume and shutdown mid-flight lose nothing (cpu)', () =>
  assertStressClean({ backend: 'cpu', workers: 2, producers: 4, messages: 2500, capacity: 256 }));
