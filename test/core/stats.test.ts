// Stats recording (core/stats.ts): every recorded latency is counted, runs of equal values included, and
// the deepest depth sampled is kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatsRecorder } from '../../src/core/stats.js';

describe('StatsRecorder', () => {
  it('counts every latency recorded, runs of equal values and negatives (clock skew) included', () => {
    const s = new StatsRecorder();
    assert.equal(s.latency().count, 0);
    for (const ms of [1, 1, 1, 2, 2, 1, -0.5, 3]) s.recordLatencyMs(ms);
    assert.equal(s.latency().count, 8);
    s.recordLatencyMs(3);
    assert.equal(s.latency().count, 9, 'a value recorded after a summary is counted too');
  });

  it('reports percentiles in microseconds that follow the values recorded', () => {
    const s = new StatsRecorder();
    for (let i = 1; i <= 100; i++) s.recordLatencyMs(i / 1000); // 1 µs … 100 µs
    const l = s.latency();
    assert.ok(Math.abs(l.p50Us - 50) <= 1, `p50 ${l.p50Us}`);
    assert.ok(Math.abs(l.p99Us - 99) <= 1, `p99 ${l.p99Us}`);
    assert.ok(Math.abs(l.maxUs - 100) <= 1, `max ${l.maxUs}`);
  });

  it('reports no percentile above the largest latency recorded', () => {
    const s = new StatsRecorder();
    s.recordLatencyMs(0.123457); // 123 457 ns: inside a histogram bucket, not on its upper edge
    const l = s.latency();
    assert.equal(l.maxUs, 123.46);
    for (const [name, value] of Object.entries({ p50Us: l.p50Us, p95Us: l.p95Us, p99Us: l.p99Us })) {
      assert.ok(value <= l.maxUs, `${name} ${value} µs is above maxUs ${l.maxUs} µs, the largest value recorded`);
    }
  });

  it('keeps the deepest depth sampled', () => {
    const s = new StatsRecorder();
    for (const d of [3, 10, 2, 7]) s.sampleDepth(d);
    assert.equal(s.maxDepth, 10);
  });
});
