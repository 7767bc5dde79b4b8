// `gpuqueue demo` end to end (as CI runs it: stdout is not a terminal), and the ledger that decides its exit
// code: a wrong checksum, a result where a dead letter was due, a damaged dead-letter payload and a
// reordered device each make the demo fail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ResultLedger } from '../../src/cli/result-ledger.js';
import { TelemetrySource } from '../../src/cli/telemetry.js';
import { type Completion, faultFails, fnv1a } from '../../src/index.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

describe('gpuqueue demo', () => {
  it('runs the telemetry workload, prints a line per second without a terminal, and ends in a clean summary', async () => {
    const { stdout } = await run(process.execPath, [
      CLI,
      'demo',
      '--seconds',
      '2',
      '--engine',
      'cpu',
      '--payload-bytes',
      '256',
      '--fail-rate',
      '0.05',
    ]);
    assert.match(stdout, /^demo 1\/2 s: [\d,]+ done/m);
    assert.ok(!stdout.includes('\u001b['), 'no terminal escape codes when stdout is not a TTY');
    for (const row of [
      'engine',
      'messages',
      'throughput msg/s',
      'latency p50 µs',
      'latency p95 µs',
      'latency p99 µs',
      'retries',
      'dead letters',
      'max depth',
    ]) {
      assert.match(stdout, new RegExp(`│ ${row}\\s+│`), row);
    }
    assert.match(stdout, /│ mismatches\s+│ 0\s+│/);
    assert.match(stdout, /│ out of order\s+│ 0\s+│/);
    assert.match(stdout, /│ lost\s+│ 0\s+│/);
    const deadLetters = Number(/│ dead letters\s+│ ([\d,]+)/.exec(stdout)?.[1]?.replaceAll(',', ''));
    assert.ok(deadLetters > 0, 'a 5 % fail rate dead-letters some messages');
  });

  it('refuses a bad option with a message naming it', async () => {
    await assert.rejects(run(process.execPath, [CLI, 'demo', '--fail-rate', '2']), (error: { code: number; stderr: string }) => {
      assert.notEqual(error.code, 0);
      assert.match(error.stderr, /--fail-rate must be a number from 0 to 1/);
      return true;
    });
  });
});

describe('the demo ledger', () => {
  const fault = { failRate: 0.2, failAttempts: Number.POSITIVE_INFINITY, seed: 0 };
  const source = new TelemetrySource(64, 64, 4);

  function completionFor(id: number, checksum: number): Completion {
    if (faultFails(id, 0, fault))
      return { id, status: 'dead-letter', data: new Uint8Array(0), attempts: 4, handlerStatus: 1, reason: 'failed' };
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, checksum, true);
    return { id, status: 'ok', data, attempts: 1, handlerStatus: 0 };
  }

  it('accepts correct results and dead letters, even when completions come before their ids are known', () => {
    const ledger = new ResultLedger(4, fault);
    const batch = source.next();
    const ids = batch.payloads.map((_, i) => 100 + i);
    const completions = ids.map((id, i) => completionFor(id, batch.checksums[i] as number));
    for (const c of completions.slice(0, 10)) ledger.settle(c); // before register: kept aside
    ledger.register(ids, batch);
    for (const c of completions.slice(10)) ledger.settle(c);
    const dead = ids.filter((id) => faultFails(id, 0, fault));
    assert.ok(dead.length > 0);
    ledger.checkDeadLetters(
      dead.map((id) => ({
        id,
        payload: (batch.payloads[id - 100] as Uint8Array).slice(),
        attempts: 4,
        handlerStatus: 1,
        reason: 'failed',
      })),
    );
    ledger.finish();
    assert.deepEqual(
      {
        completed: ledger.completed,
        deadLetters: ledger.deadLetters,
        mismatches: ledger.mismatches,
        outOfOrder: ledger.outOfOrder,
        outstanding: ledger.outstanding,
      },
      { completed: 64, deadLetters: dead.length, mismatches: 0, outOfOrder: 0, outstanding: 0 },
    );
  });

  it('counts a wrong checksum, a success where a dead letter was due, and a damaged dead-letter payload', () => {
    const ledger = new ResultLedger(4, fault);
    const batch = source.next();
    const ids = batch.payloads.map((_, i) => 1000 + i);
    ledger.register(ids, batch);
    const okAt = ids.findIndex((id) => !faultFails(id, 0, fault));
    const deadAt = ids.findIndex((id) => faultFails(id, 0, fault));
    // A wrong checksum on a message that should succeed.
    ledger.settle(completionFor(ids[okAt] as number, ((batch.checksums[okAt] as number) ^ 1) >>> 0));
    // A success where the fault handler must have failed.
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, batch.checksums[deadAt] as number, true);
    ledger.settle({ id: ids[deadAt] as number, status: 'ok', data, attempts: 1, handlerStatus: 0 });
    assert.equal(ledger.mismatches, 2);
    // A dead letter whose payload is not the record enqueued.
    const next = ids.findIndex((id, i) => i > deadAt && faultFails(id, 0, fault));
    ledger.settle(completionFor(ids[next] as number, 0));
    ledger.checkDeadLetters([{ id: ids[next] as number, payload: new Uint8Array(64), attempts: 4, handlerStatus: 1, reason: 'failed' }]);
    assert.equal(ledger.mismatches, 3);
    assert.notEqual(fnv1a(new Uint8Array(64)), batch.checksums[next]);
    ledger.finish();
    assert.ok(ledger.outstanding > 0, 'messages never completed remain outstanding (reported as lost)');
  });

  it('counts a device whose records complete out of order', () => {
    const ledger = new ResultLedger(4, fault);
    const batch = source.next();
    const ids = batch.payloads.map((_, i) => 5000 + i);
    ledger.register(ids, batch);
    const passes = (i: number) => !faultFails(ids[i] as number, 0, fault);
    const first = ids.findIndex((_, i) => passes(i));
    const second = ids.findIndex((_, i) => i > first && passes(i) && batch.devices[i] === batch.devices[first]);
    assert.ok(second > first, 'the batch has two passing records of one device');
    ledger.settle(completionFor(ids[second] as number, batch.checksums[second] as number));
    ledger.settle(completionFor(ids[first] as number, batch.checksums[first] as number));
    assert.equal(ledger.outOfOrder, 1);
    assert.equal(ledger.mismatches, 0);
  });
});
