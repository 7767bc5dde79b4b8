// Merging the runs of one case (each in its own process): the median rate, every run's rate (the spread
// between processes is large on a 2-core machine), latency percentiles over the merged HDR histograms,
// and counters summed.
import * as hdr from 'hdr-histogram-js';
import type { CaseSpec } from './contender.js';
import type { RunResult } from './runner.js';

export interface LatencyUs {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface CaseSummary {
  spec: CaseSpec;
  /** Median over runs. */
  msgPerSec: number;
  /** Each run's rate, in run order. */
  runsMsgPerSec: number[];
  messages: number;
  seconds: number;
  latencyUs: LatencyUs;
  /** Per batch: hand-over until the last result is in hand (round trips: per message). */
  batchLatencyUs: LatencyUs;
  mismatches: number;
  deadLetters: number;
  expectedDeadLetters: number;
  retries: number;
  /** What the contender reported at teardown, per run. */
  details: Record<string, unknown>[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export function latencyUs(h: hdr.Histogram): LatencyUs {
  const us = (ns: number) => Math.round(ns / 10) / 100;
  return {
    count: h.totalCount,
    p50: us(h.getValueAtPercentile(50)),
    p95: us(h.getValueAtPercentile(95)),
    p99: us(h.getValueAtPercentile(99)),
    max: us(h.maxValue),
  };
}

export function summarize(runs: RunResult[]): CaseSummary {
  const first = runs[0];
  if (!first) throw new Error('summarize: no runs');
  const merged = hdr.build({ numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: 600e9 });
  const mergedBatches = hdr.build({ numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: 600e9 });
  for (const r of runs) {
    merged.add(hdr.decodeFromCompressedBase64(r.latencyHistogram));
    mergedBatches.add(hdr.decodeFromCompressedBase64(r.batchLatencyHistogram));
  }
  const sum = (f: (r: RunResult) => number) => runs.reduce((s, r) => s + f(r), 0);
  return {
    spec: first.spec,
    msgPerSec: Math.round(median(runs.map((r) => r.msgPerSec))),
    runsMsgPerSec: runs.map((r) => r.msgPerSec),
    messages: sum((r) => r.messages),
    seconds: Math.round(sum((r) => r.seconds) * 1e4) / 1e4,
    latencyUs: latencyUs(merged),
    batchLatencyUs: latencyUs(mergedBatches),
    mismatches: sum((r) => r.mismatches),
    deadLetters: sum((r) => r.deadLetters),
    expectedDeadLetters: sum((r) => r.expectedDeadLetters),
    retries: sum((r) => r.retries),
    details: runs.map((r) => r.detail),
  };
}
