// The webgpu engine as a consumer of the slot ring, driven directly (a ring, the engine, a producer and a
// harvester loop in this file): every built-in handler gives the JS reference's bytes, retries and
// statuses; user WGSL runs, and its compile errors name the line; a lost device or a validation error is
// a fault that leaves every unfinished message in the ring, where another engine finishes it. Skipped,
// with the reason, where Dawn finds no adapter (ci/install-lavapipe.sh gives one to any Linux machine).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { resolveOptions } from '../../src/core/options.js';
import { Control, outcomeWord, SlotOutcome, SlotState, slotOf } from '../../src/core/slot-layout.js';
import { SlotRing } from '../../src/core/slot-ring.js';
import { CpuEngine } from '../../src/engines/cpu/cpu-engine.js';
import type { Engine } from '../../src/engines/engine.js';
import { probeWebGpu } from '../../src/engines/webgpu/dawn.js';
import { CONSUMERS_ENV } from '../../src/engines/webgpu/plan.js';
import { WebGpuEngine, type WebGpuEngineOptions } from '../../src/engines/webgpu/webgpu-engine.js';
import { fnv1a } from '../../src/handlers/checksum/checksum.js';
import { faultFails, faultHash, faultThreshold } from '../../src/handlers/fault/fault.js';
import type { HandlerSpec } from '../../src/handlers/handler.js';
import { resolveHandler } from '../../src/handlers/registry.js';
import { vectorStats } from '../../src/handlers/vector-stats/vector-stats.js';
import { open } from '../../src/index.js';

const probe = await probeWebGpu();
const skip = probe.usable ? false : `the webgpu engine cannot run here: ${probe.reason}`;
if (skip) console.log(`# webgpu engine tests skipped: ${skip}`);

interface Outcome {
  id: number;
  status: number;
  attempts: number;
  data: Uint8Array;
}

interface Rig {
  ring: SlotRing;
  engine: WebGpuEngine;
  faults: Error[];
  /** Enqueues payloads (ids 1, 2, … in order), alternating shards. */
  produce(payloads: Uint8Array[]): void;
  /** Harvests until `n` outcomes are in (or fails after `timeoutMs`). */
  collect(n: number, timeoutMs?: number): Promise<Outcome[]>;
}

const SHARDS = 2;

function rig(
  handler: HandlerSpec,
  o: { slotBytes: number; resultBytes: number; maxRetries?: number; capacity?: number; consumers?: number; engine?: WebGpuEngineOptions },
): Rig {
  const maxRetries = o.maxRetries ?? 3;
  const capacity = o.capacity ?? 1024;
  const config = resolveOptions({ capacity, slotBytes: o.slotBytes, maxRetries, consumerSpinUs: 50 });
  const ring = SlotRing.create(
    { shards: SHARDS, consumers: o.consumers ?? 1, shardCapacity: capacity / SHARDS, slotBytes: o.slotBytes, resultBytes: o.resultBytes },
    maxRetries,
  );
  const faults: Error[] = [];
  const engine = new WebGpuEngine({ ring, handler, config, onFault: (e) => faults.push(e) }, o.engine);
  let nextId = 1;
  const queued: Uint8Array[] = [];
  const pump = () => {
    while (queued.length > 0) {
      const shard = nextId % SHARDS;
      const pos = ring.claim(shard, 1);
      if (pos < 0) return;
      ring.write(shard, pos, queued.shift() as Uint8Array, nextId++, 0, false, 0);
      ring.publish(shard, pos, 1);
    }
  };
  return {
    ring,
    engine,
    faults,
    produce(payloads) {
      queued.push(...payloads);
      pump();
    },
    async collect(n, timeoutMs = 30_000) {
      const out: Outcome[] = [];
      const deadline = performance.now() + timeoutMs;
      while (out.length < n) {
        for (let s = 0; s < SHARDS; s++) {
          ring.harvest(s, 1 << 20, (slot) => {
            out.push({
              id: ring.idAt(slot),
              status: ring.outcome(slot, SlotOutcome.HANDLER_STATUS),
              attempts: ring.outcome(slot, SlotOutcome.ATTEMPTS),
              data: ring.resultAt(slot).slice(),
            });
          });
        }
        pump();
        if (performance.now() > deadline) assert.fail(`${out.length} of ${n} messages completed within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, out.length < n ? 1 : 0));
      }
      return out.sort((a, b) => a.id - b.id);
    },
  };
}

/** Starts the engine, runs `body`, always stops it. */
async function withRig(r: Rig, body: () => Promise<void>): Promise<void> {
  await r.engine.start();
  try {
    await body();
  } finally {
    await r.engine.stop();
  }
}

/** mulberry32, so a failure replays. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPayloads(rand: () => number, count: number, maxBytes: number, multipleOf = 1): Uint8Array[] {
  const edge = [0, 1, 3, 4, 5, 15, 16, 17, maxBytes - 1, maxBytes].filter((n) => n >= 0 && n <= maxBytes && n % multipleOf === 0);
  return Array.from({ length: count }, (_, i) => {
    const len = i < edge.length ? (edge[i] as number) : Math.floor((rand() * (maxBytes + 1)) / multipleOf) * multipleOf;
    const p = new Uint8Array(len);
    for (let j = 0; j < len; j++) p[j] = Math.floor(rand() * 256);
    return p;
  });
}

const u32le = (n: number) => new Uint8Array(new Uint32Array([n >>> 0]).buffer);
const bitsOf = (values: number[]) => [...new Uint32Array(new Float32Array(values).buffer)];

describe('the webgpu engine runs every built-in handler bit-identically to its JS implementation', { skip }, () => {
  it('checksum: FNV-1a of 600 random payloads of 0…256 bytes, from two shards', async () => {
    const payloads = randomPayloads(seeded(1), 600, 256);
    const r = rig(resolveHandler('checksum'), { slotBytes: 256, resultBytes: 4 });
    await withRig(r, async () => {
      r.produce(payloads);
      const got = await r.collect(payloads.length);
      got.forEach((o, i) => {
        assert.equal(o.status, HandlerStatus.OK);
        assert.equal(o.attempts, 1);
        assert.deepEqual(o.data, u32le(fnv1a(payloads[i] as Uint8Array)), `message ${o.id} (${payloads[i]?.length} bytes)`);
      });
    });
    assert.deepEqual(r.faults, []);
  });

  it('echo: 400 random payloads come back byte for byte; one over the result area is RESULT_TOO_LARGE', async () => {
    const payloads = randomPayloads(seeded(2), 400, 200);
    const r = rig(resolveHandler('echo'), { slotBytes: 200, resultBytes: 100, maxRetries: 1 });
    await withRig(r, async () => {
      r.produce(payloads);
      const got = await r.collect(payloads.length);
      got.forEach((o, i) => {
        const p = payloads[i] as Uint8Array;
        if (p.length > 100) {
          assert.deepEqual([o.status, o.attempts, o.data.length], [HandlerStatus.RESULT_TOO_LARGE, 2, 0], `message ${o.id}`);
        } else {
          assert.equal(o.status, HandlerStatus.OK);
          assert.deepEqual(o.data, p, `message ${o.id} (${p.length} bytes)`);
        }
      });
    });
  });

  it('vector-stats: [sum, sumSq, min, max] bits equal vectorStats for random floats, raw bit patterns, subnormals and signed zeros', async () => {
    const rand = seeded(3);
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const n = i === 0 ? 0 : 1 + Math.floor(rand() * 256);
      const values = new Float32Array(n);
      const words = new Uint32Array(values.buffer);
      for (let j = 0; j < n; j++) {
        const kind = i % 4;
        if (kind === 0) values[j] = (rand() - 0.5) * 10 ** Math.floor(rand() * 12 - 6);
        else if (kind === 1)
          words[j] = Math.floor(rand() * 2 ** 32); // anything: NaN, ±∞, subnormal
        else if (kind === 2)
          words[j] = (rand() < 0.5 ? 0x80000000 : 0) | Math.floor(rand() * 0x01000000); // subnormals and the smallest normals
        else values[j] = [0, -0, 1, -1, 3.4e38, -3.4e38, 1e-45, 0.1][Math.floor(rand() * 8)] as number;
      }
      payloads.push(new Uint8Array(values.buffer));
    }
    const r = rig(resolveHandler('vector-stats'), { slotBytes: 1024, resultBytes: 16 });
    await withRig(r, async () => {
      r.produce([...payloads, new Uint8Array(6)]);
      const got = await r.collect(payloads.length + 1);
      payloads.forEach((p, i) => {
        const o = got[i] as Outcome;
        assert.equal(o.status, HandlerStatus.OK);
        const expected = vectorStats(new Float32Array(p.buffer, p.byteOffset, p.length / 4));
        const actual = [...new Uint32Array(o.data.slice().buffer)];
        // NaN is NaN: JS does not pin a NaN's bits; the kernel writes the canonical 0x7fc00000.
        const want = bitsOf(expected).map((bits, k) => (Number.isNaN(expected[k]) ? 0x7fc00000 : bits));
        const have = actual.map((bits, k) => (Number.isNaN(expected[k]) && (bits & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : bits));
        assert.deepEqual(have, want, `message ${o.id} (${p.length / 4} floats)`);
      });
      const odd = got[payloads.length] as Outcome;
      assert.deepEqual([odd.status, odd.attempts], [HandlerStatus.BAD_PAYLOAD, 4], 'a payload of 6 bytes is BAD_PAYLOAD on every attempt');
    });
  });

  it('fault: the same ids fail, on the same attempts, as faultFails says; the rest give checksum results', async () => {
    const spec = resolveHandler({ name: 'fault', inner: 'checksum', failRate: 0.3, failAttempts: 2, seed: 7 });
    const always = resolveHandler({
      name: 'fault',
      inner: { name: 'fault', inner: 'checksum', failRate: 0.1, seed: 3 },
      failRate: 0.05,
      seed: 9,
    });
    const payloads = randomPayloads(seeded(4), 500, 64);
    for (const [handler, maxRetries] of [
      [spec, 3],
      [always, 2],
    ] as const) {
      const r = rig(handler, { slotBytes: 64, resultBytes: 4, maxRetries });
      await withRig(r, async () => {
        r.produce(payloads);
        const got = await r.collect(payloads.length);
        for (const o of got) {
          let attempts = 0;
          let ok = false;
          while (attempts <= maxRetries && !ok) {
            let fails = false;
            for (let at: HandlerSpec | undefined = handler; at?.name === 'fault'; at = at.params.inner as HandlerSpec) {
              if (faultFails(o.id, attempts, at.params as { failRate: number; failAttempts: number; seed: number })) fails = true;
            }
            attempts++;
            ok = !fails;
          }
          assert.deepEqual([o.status, o.attempts], [ok ? HandlerStatus.OK : HandlerStatus.FAILED, attempts], `message ${o.id}`);
          assert.deepEqual(o.data, ok ? u32le(fnv1a(payloads[o.id - 1] as Uint8Array)) : new Uint8Array(0));
        }
      });
    }
  });

  it('slow: messages run one at a time, each published no sooner than delayUs after it was sent', async () => {
    const r = rig(resolveHandler({ name: 'slow', inner: 'echo', delayUs: 20_000 }), { slotBytes: 16, resultBytes: 16 });
    await withRig(r, async () => {
      const started = performance.now();
      r.produce([new Uint8Array([1, 2, 3]), new Uint8Array([4]), new Uint8Array([5])]);
      const got = await r.collect(3);
      assert.ok(performance.now() - started >= 60, 'held for the delay, message after message');
      assert.deepEqual(
        got.map((o) => [...o.data]),
        [[1, 2, 3], [4], [5]],
      );
    });
    assert.deepEqual(r.engine.batchCounts(), { batches: 3, messages: 3, largestBatch: 1 });
  });

  it('batches grow under load (consumer in a worker thread): 3000 messages queued at once go in far fewer batches, none over maxBatch', async () => {
    const r = rig(resolveHandler('checksum'), {
      slotBytes: 32,
      resultBytes: 4,
      capacity: 4096,
      engine: { thread: 'worker', maxBatch: 1024, initialBatch: 16 },
    });
    await withRig(r, async () => {
      r.produce(randomPayloads(seeded(5), 3000, 32));
      await r.collect(3000);
    });
    const counts = r.engine.batchCounts();
    assert.equal(counts.messages, 3000);
    assert.ok(counts.largestBatch > 16 && counts.largestBatch <= 1024, `largest batch ${counts.largestBatch}`);
    assert.ok(counts.batches < 3000 / 16, `${counts.batches} batches`);
  });
});

describe('how batches are staged and published: a run of slots with one copy per array, or one copy per message', { skip }, () => {
  for (const upload of ['mapped', 'write-buffer', 'mapped-at-creation'] as const) {
    it(`upload ${upload}: 2000 checksums of 0…256-byte payloads in batches of every size up to 256 equal FNV-1a`, async () => {
      const payloads = randomPayloads(seeded(31), 2000, 256);
      const r = rig(resolveHandler('checksum'), {
        slotBytes: 256,
        resultBytes: 4,
        engine: { thread: 'owner', upload, initialBatch: 1, maxBatch: 256 },
      });
      await withRig(r, async () => {
        r.produce(payloads);
        const got = await r.collect(payloads.length);
        got.forEach((o, i) => {
          assert.equal(o.status, HandlerStatus.OK);
          assert.deepEqual(o.data, u32le(fnv1a(payloads[i] as Uint8Array)), `message ${o.id}`);
        });
      });
      assert.deepEqual(r.faults, []);
      assert.ok(r.engine.batchCounts().batches > 1, 'several batches');
    });
  }

  it('results far shorter than their 2000 B areas (published one by one) and full ones (a run at once): 600 echo payloads through a 64-slot ring come back byte for byte', async () => {
    const rand = seeded(11);
    // Runs of short results (word copies and set() calls) among runs with full ones (one copy per run).
    const payloads = randomPayloads(rand, 600, 2000).map((p, i) =>
      i % 100 < 50 ? p : p.subarray(0, i % 2 === 0 ? Math.floor(rand() * 65) : 65 + Math.floor(rand() * 200)),
    );
    const r = rig(resolveHandler('echo'), { slotBytes: 2000, resultBytes: 2000, capacity: 64 });
    await withRig(r, async () => {
      r.produce(payloads);
      const got = await r.collect(payloads.length);
      got.forEach((o, i) => {
        assert.equal(o.status, HandlerStatus.OK);
        assert.deepEqual(o.data, payloads[i], `message ${o.id}`);
      });
    });
    assert.deepEqual(r.faults, []);
  });

  it('payloads far shorter than their 4 KB areas (copied one by one, not as whole runs), in runs cut where a 32-slot shard wraps, all give FNV-1a', async () => {
    const rand = seeded(12);
    const payloads = randomPayloads(rand, 600, 4096).map((p, i) => (i % 3 === 0 ? p : p.subarray(0, Math.floor(rand() * 65))));
    const r = rig(resolveHandler('checksum'), { slotBytes: 4096, resultBytes: 4, capacity: 64, engine: { thread: 'owner' } });
    await withRig(r, async () => {
      r.produce(payloads);
      const got = await r.collect(payloads.length);
      got.forEach((o, i) => {
        assert.equal(o.status, HandlerStatus.OK);
        assert.deepEqual(o.data, u32le(fnv1a(payloads[i] as Uint8Array)), `message ${o.id} (${payloads[i]?.length} bytes)`);
      });
    });
    assert.deepEqual(r.faults, []);
  });

  it('a message already run 1 + maxRetries times by consumers that died is finished CONSUMER_DIED without running, its attempts kept', async () => {
    const maxRetries = 2;
    const r = rig(resolveHandler('checksum'), { slotBytes: 64, resultBytes: 4, maxRetries, engine: { thread: 'owner' } });
    await withRig(r, async () => {
      // Ids 1…40 on shard 0; every fourth one comes with its attempts used up, in the middle of a run.
      const pos = r.ring.claim(0, 40);
      for (let i = 0; i < 40; i++) {
        r.ring.write(0, pos + i, new Uint8Array([i]), i + 1, 0, false, 0);
        if (i % 4 === 1) r.ring.i32[outcomeWord(r.ring.layout, slotOf(r.ring.layout, 0, pos + i)) + SlotOutcome.ATTEMPTS] = 1 + maxRetries;
      }
      r.ring.publish(0, pos, 40);
      const got = await r.collect(40);
      got.forEach((o, i) => {
        if (i % 4 === 1) assert.deepEqual([o.status, o.attempts, o.data.length], [HandlerStatus.CONSUMER_DIED, 1 + maxRetries, 0]);
        else assert.deepEqual([o.status, o.attempts, [...o.data]], [HandlerStatus.OK, 1, [...u32le(fnv1a(new Uint8Array([i])))]]);
      });
    });
    assert.deepEqual(r.faults, []);
  });
});

describe('consumer threads', { skip }, () => {
  it('a ring cut for two consumers gets two worker threads, one per shard: 800 messages all done with their checksums', async () => {
    const payloads = randomPayloads(seeded(13), 800, 64);
    const r = rig(resolveHandler('checksum'), { slotBytes: 64, resultBytes: 4, consumers: 2, engine: { thread: 'worker' } });
    await withRig(r, async () => {
      assert.match(r.engine.describe(), /2 worker threads/);
      r.produce(payloads);
      const got = await r.collect(payloads.length);
      got.forEach((o, i) => {
        assert.equal(o.status, HandlerStatus.OK);
        assert.deepEqual(o.data, u32le(fnv1a(payloads[i] as Uint8Array)), `message ${o.id}`);
      });
    });
    assert.equal(r.engine.batchCounts().messages, 800);
    assert.deepEqual(r.faults, []);
  });

  it(`through open(), ${CONSUMERS_ENV}=2 cuts the ring for two consumer threads: 2000 keyed messages, each key's completions in enqueue order`, async () => {
    const before = process.env[CONSUMERS_ENV];
    process.env[CONSUMERS_ENV] = '2';
    let q: Awaited<ReturnType<typeof open>> | undefined;
    try {
      q = await open({ backend: 'webgpu', workers: 4, capacity: 4096, slotBytes: 64, handler: 'checksum' });
    } finally {
      if (before === undefined) delete process.env[CONSUMERS_ENV];
      else process.env[CONSUMERS_ENV] = before;
    }
    try {
      assert.match(q.stats().engineDetail ?? '', /2 worker threads, one per consumer/);
      const payloads = randomPayloads(seeded(21), 2000, 64);
      const keyOf = (i: number) => `device-${i % 7}`;
      const ids: number[] = [];
      for (let i = 0; i < payloads.length; i++) ids.push(await q.enqueue(payloads[i] as Uint8Array, { key: keyOf(i) }));
      const indexOf = new Map(ids.map((id, i) => [id, i]));
      const lastPerKey = new Map<string, number>();
      let seen = 0;
      while (seen < payloads.length) {
        const batch = q.pollCompletions(4096);
        if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        for (const c of batch) {
          const i = indexOf.get(c.id);
          assert.ok(i !== undefined, `unknown id ${c.id}`);
          assert.equal(c.status, 'ok');
          assert.deepEqual(c.data, u32le(fnv1a(payloads[i] as Uint8Array)), `message ${c.id}`);
          const key = keyOf(i);
          assert.ok((lastPerKey.get(key) ?? -1) < i, `key ${key}: message ${i} completed after a later one`);
          lastPerKey.set(key, i);
          seen++;
        }
      }
    } finally {
      await q.shutdown();
    }
  });
});

/** A user handler: the payload is two float32 bit patterns a, b; the result is f32_add_rn, f32_mul_rn and f32_less of them. */
const F32_OPS_WGSL = `
fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 {
  if (msg.len != 8u) { return STATUS_BAD_PAYLOAD; }
  let a = payload_word(msg, 0u);
  let b = payload_word(msg, 1u);
  result_store_word(out, 0u, f32_add_rn(a, b));
  result_store_word(out, 1u, f32_mul_rn(a, b));
  result_store_word(out, 2u, select(0u, 1u, f32_less(a, b)));
  (*out).len = 12u;
  return STATUS_OK;
}
`;

describe('user WGSL handlers', { skip }, () => {
  it("run with the ABI's helpers: f32_add_rn, f32_mul_rn and f32_less equal JS on 3000 pairs of edge and random bit patterns", async () => {
    const rand = seeded(6);
    const edges = [
      0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x00800000, 0x3f800000, 0xbf800000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
      0x7fc00000, 0x33800000, 0x4b800000,
    ];
    const pairs: [number, number][] = [];
    for (const a of edges) for (const b of edges) pairs.push([a, b]);
    while (pairs.length < 3000) {
      const a = Math.floor(rand() * 2 ** 32);
      // Half the pairs close in exponent, where cancellation and ties happen.
      const b =
        rand() < 0.5
          ? Math.floor(rand() * 2 ** 32)
          : ((a & 0xff800000) ^ (rand() < 0.5 ? 0x80000000 : 0) ^ (Math.floor(rand() * 4) << 23)) | Math.floor(rand() * 0x800000);
      pairs.push([a >>> 0, b >>> 0]);
    }
    const payloads = pairs.map(([a, b]) => new Uint8Array(new Uint32Array([a, b]).buffer));
    const r = rig({ name: 'wgsl', params: { source: F32_OPS_WGSL } }, { slotBytes: 8, resultBytes: 12, capacity: 4096 });
    const canon = (x: number) => (Number.isNaN(x) ? 0x7fc00000 : (bitsOf([x])[0] as number));
    await withRig(r, async () => {
      r.produce(payloads);
      const got = await r.collect(payloads.length);
      got.forEach((o, i) => {
        const [a, b] = (pairs[i] as [number, number]).map((bits) => new Float32Array(new Uint32Array([bits]).buffer)[0] as number) as [
          number,
          number,
        ];
        const have = [...new Uint32Array(o.data.slice().buffer)];
        const want = [canon(Math.fround(a + b)), canon(Math.fround(a * b)), a < b ? 1 : 0];
        assert.deepEqual(have, want, `a=0x${pairs[i]?.[0].toString(16)} b=0x${pairs[i]?.[1].toString(16)}`);
      });
    });
  });

  it('that do not compile fail start with INVALID_ARG and the compiler messages at their own line numbers', async () => {
    const source =
      'fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 {\n  let x = 1u;\n  return x + undefined_name;\n}\n';
    const r = rig({ name: 'wgsl', params: { source } }, { slotBytes: 8, resultBytes: 8 });
    await assert.rejects(r.engine.start(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INVALID_ARG');
      assert.match(error.message, /handler\.wgsl:3:\d+: error: .*undefined_name/);
      return true;
    });
  });

  it('that claim a result longer than the area (or a negative i32 length) end RESULT_TOO_LARGE with no result (not retried: the handler said OK)', async () => {
    const source = `fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 {
  result_store_word(out, 0u, msg.id_lo);
  (*out).len = select(4u, select(17u, 0xffffffffu, msg.len == 2u), msg.len > 0u);
  return STATUS_OK;
}
`;
    const r = rig({ name: 'wgsl', params: { source } }, { slotBytes: 8, resultBytes: 16, maxRetries: 1, engine: { thread: 'owner' } });
    await withRig(r, async () => {
      r.produce([new Uint8Array(0), new Uint8Array(1), new Uint8Array(2), new Uint8Array(0)]);
      const got = await r.collect(4);
      assert.deepEqual(
        got.map((o) => [o.id, o.status, o.attempts, [...o.data]]),
        [
          [1, HandlerStatus.OK, 1, [...u32le(1)]],
          [2, HandlerStatus.RESULT_TOO_LARGE, 1, []],
          [3, HandlerStatus.RESULT_TOO_LARGE, 1, []],
          [4, HandlerStatus.OK, 1, [...u32le(4)]],
        ],
      );
    });
    assert.deepEqual(r.faults, []);
  });

  it('a handler with no WGSL twin is ENGINE_UNAVAILABLE, saying so', async () => {
    // Every built-in has one; a handler registered later without one must be refused the same way.
    const r = rig(
      { name: 'fault', params: { inner: { name: 'js-only', params: {} }, failRate: 0, failAttempts: 0, seed: 0 } },
      { slotBytes: 8, resultBytes: 8 },
    );
    await assert.rejects(r.engine.start(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ENGINE_UNAVAILABLE');
      assert.match(error.message, /cannot run fault: handler js-only has no WGSL implementation/);
      return true;
    });
  });
});

/** Counts slots per state between HARVEST_TAIL and HEAD, over every shard. */
function slotStates(ring: SlotRing): Record<'ready' | 'inflight' | 'done', number> {
  const counts = { ready: 0, inflight: 0, done: 0 };
  for (const slot of ring.unharvestedSlots()) {
    const state = ring.stateOf(slot);
    if (state === SlotState.READY) counts.ready++;
    else if (state === SlotState.INFLIGHT) counts.inflight++;
    else if (state === SlotState.DONE || state === SlotState.DONE_ODD_LAP) counts.done++;
  }
  return counts;
}

/** A crash seed whose first crashing id (crashRate 1 %) lies in [from, to): the engine is mid-run when it fires. */
function crashSeed(from: number, to: number): { seed: number; id: number } {
  const threshold = faultThreshold(0.01);
  for (let seed = 1; ; seed++) {
    let id = 1;
    while (faultHash(id, seed) >= threshold) id++;
    if (id >= from && id < to) return { seed, id };
  }
}

describe('faults', { skip }, () => {
  const placements = [
    { thread: 'worker', consumers: 1, where: 'the worker thread' },
    { thread: 'owner', consumers: 1, where: 'the owner thread' },
    { thread: 'worker', consumers: 2, where: 'one of two worker threads' },
  ] as const;
  for (const { thread, consumers, where } of placements) {
    it(`a device lost mid-run (the crash handler, consumer on ${where}) is one fault; cpu workers finish every message exactly once`, async () => {
      const payloads = randomPayloads(seeded(7), 300, 32);
      const { seed, id: crashId } = crashSeed(100, 200);
      const handler = resolveHandler({ name: 'crash', inner: 'checksum', crashRate: 0.01, crashAttempts: 1, seed });
      const r = rig(handler, { slotBytes: 32, resultBytes: 4, consumers, engine: { thread, initialBatch: 32, maxBatch: 32 } });
      await r.engine.start();
      r.produce(payloads);
      const deadline = performance.now() + 20_000;
      while (r.faults.length === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(r.faults.length, 1, 'onFault called once');
      assert.match(r.faults[0]?.message ?? '', new RegExp(`crash handler killed the webgpu consumer on message ${crashId}`));
      await r.engine.stop();
      const left = slotStates(r.ring);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(slotStates(r.ring), left, 'nothing moves after the fault');
      assert.ok(left.ready + left.inflight > 0, 'messages were left unfinished');
      const before = await r.collect(left.done);
      // The ring is the same for every engine: cpu workers take over the unfinished slots in place.
      const config = resolveOptions({ capacity: 1024, slotBytes: 32, maxRetries: 3 });
      const cpu: Engine = new CpuEngine(
        { ring: r.ring, handler: resolveHandler('checksum'), config, onFault: (e) => assert.fail(e) },
        consumers,
      );
      r.ring.setControl(Control.STOP, 0);
      await cpu.start();
      try {
        const after = await r.collect(payloads.length - before.length);
        const all = [...before, ...after].sort((a, b) => a.id - b.id);
        assert.deepEqual(
          all.map((o) => o.id),
          payloads.map((_, i) => i + 1),
          'every id exactly once',
        );
        for (const o of all) assert.deepEqual(o.data, u32le(fnv1a(payloads[o.id - 1] as Uint8Array)), `message ${o.id}`);
        assert.ok(
          all.some((o) => o.id < crashId && o.attempts === 1),
          'the engine finished messages before the crash',
        );
        const crashed = all.find((o) => o.id === crashId);
        assert.equal(crashed?.attempts, 2, 'the crashed run counts as an attempt');
      } finally {
        r.ring.setControl(Control.STOP, 1);
        await cpu.stop();
      }
    });
  }

  it("through the public API with fallback: 'cpu', a device lost mid-run loses nothing: every message completes, with its checksum", async () => {
    const { seed } = crashSeed(100, 200);
    const payloads = randomPayloads(seeded(8), 400, 64);
    const q = await open({
      backend: 'webgpu',
      fallback: 'cpu',
      workers: 1,
      capacity: 1024,
      slotBytes: 64,
      handler: { name: 'crash', inner: 'checksum', crashRate: 0.01, crashAttempts: 1, seed },
    });
    try {
      const ids = await q.enqueueBatch(payloads);
      const results = await Promise.all(ids.map((id) => q.result(id, { timeoutMs: 30_000 })));
      results.forEach((c, i) => {
        assert.equal(c.status, 'ok', `message ${c.id}`);
        assert.deepEqual(c.data, u32le(fnv1a(payloads[i] as Uint8Array)), `message ${c.id}`);
      });
      assert.match(q.stats().fellBackFrom ?? '', /^webgpu \(the crash handler killed the webgpu consumer/);
    } finally {
      await q.shutdown();
    }
  });

  it('a validation error on the device is a fault too, and stop() still resolves', async () => {
    const r = rig(resolveHandler('echo'), { slotBytes: 16, resultBytes: 16, engine: { thread: 'owner' } });
    await r.engine.start();
    const device = r.engine.gpuDevice();
    assert.ok(device);
    const buffer = device.createBuffer({ size: 16, usage: 0x8 /* COPY_DST */ });
    buffer.destroy();
    device.queue.writeBuffer(buffer, 0, new Uint8Array(16));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(r.faults.length, 1);
    assert.match(r.faults[0]?.message ?? '', /WebGPU error: .*destroyed/);
    await r.engine.stop();
  });
});
