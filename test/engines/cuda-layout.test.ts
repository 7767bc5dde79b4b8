// The device code's copy of the ring layout (slot_layout.cuh) and of the handler statuses
// (handler_abi.cuh) must equal the TypeScript that owns them: every constant, in both directions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import * as layout from '../../src/core/slot-layout.js';

const kernels = new URL('../../../src/engines/cuda/kernels/', import.meta.url);

/** `constexpr T NAME = literal;` by namespace path below `gq` ('' = gq itself). */
function parseConstants(file: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const stack: string[] = [];
  for (const line of readFileSync(new URL(file, kernels), 'utf8').split('\n')) {
    const open = /^\s*namespace\s+(\w+)\s*\{/.exec(line);
    if (open) stack.push(open[1] as string);
    else if (/^\s*\}\s*\/\/\s*namespace/.test(line)) stack.pop();
    const constant = /^\s*constexpr\s+[\w:]+\s+(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)u?\s*;/.exec(line);
    if (!constant) continue;
    assert.equal(stack[0], 'gq', `${file}: ${constant[1]} is outside namespace gq`);
    const scope = stack.slice(1).join('::');
    if (!out.has(scope)) out.set(scope, new Map());
    out.get(scope)?.set(constant[1] as string, Number(constant[2]));
  }
  return out;
}

/** The TS module's numeric exports: top-level numbers under '', objects of numbers under their name. */
function tsConstants(module: Record<string, unknown>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>([['', new Map()]]);
  for (const [name, value] of Object.entries(module)) {
    if (typeof value === 'number') out.get('')?.set(name, value);
    else if (value !== null && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'number')) {
      out.set(name, new Map(Object.entries(value as Record<string, number>)));
    }
  }
  return out;
}

function assertSame(ts: Map<string, Map<string, number>>, cuh: Map<string, Map<string, number>>, scopes: string[], file: string): void {
  for (const scope of scopes) {
    const expected = ts.get(scope);
    const actual = cuh.get(scope);
    const where = scope === '' ? 'top level' : scope;
    assert.ok(expected, `TypeScript has no ${where}`);
    assert.ok(actual, `${file} has no namespace ${where}`);
    for (const [name, value] of expected) assert.equal(actual.get(name), value, `${file} ${where}.${name} must be ${value}`);
    for (const name of actual.keys()) assert.ok(expected.has(name), `${file} ${where}.${name} has no TypeScript twin`);
  }
}

test('slot_layout.cuh has every constant of slot-layout.ts, with the same value, and no other', () => {
  const ts = tsConstants(layout as unknown as Record<string, unknown>);
  const cuh = parseConstants('slot_layout.cuh');
  assertSame(ts, cuh, [...ts.keys()], 'slot_layout.cuh');
  assert.deepEqual([...cuh.keys()].sort(), [...ts.keys()].sort(), 'slot_layout.cuh namespaces must be those of slot-layout.ts');
});

test('handler_abi.cuh handler statuses equal handler-status.ts', () => {
  const cuh = parseConstants('handler_abi.cuh');
  assertSame(new Map([['HandlerStatus', new Map(Object.entries(HandlerStatus))]]), cuh, ['HandlerStatus'], 'handler_abi.cuh');
});

test('the per-slot arrays suit the kernel: 16-byte aligned, the staged header chunk and the outcome store hold its words', () => {
  const { SlotHeader, SlotOutcome, HEADER_BYTES, OUTCOME_BYTES, AREA_ALIGN } = layout;
  // persistent_consumer.cu stages header chunk 0 (16 B) only, and writes an outcome as one 16-B store.
  for (const word of [SlotHeader.PAYLOAD_LEN, SlotHeader.ID_LO, SlotHeader.ID_HI]) assert.ok(word < 4, 'in header chunk 0');
  assert.equal(HEADER_BYTES % 16, 0);
  assert.equal(OUTCOME_BYTES, 16);
  assert.deepEqual([SlotOutcome.ATTEMPTS, SlotOutcome.RESULT_LEN, SlotOutcome.HANDLER_STATUS], [0, 1, 2]);
  for (const g of [
    { shards: 1, consumers: 1, shardCapacity: 4, slotBytes: 1, resultBytes: 1 },
    { shards: 3, consumers: 2, shardCapacity: 256, slotBytes: 250, resultBytes: 20 },
  ]) {
    const l = layout.computeLayout(g);
    for (const offset of [l.statesOffset, l.headersOffset, l.outcomesOffset, l.payloadsOffset, l.resultsOffset]) {
      assert.equal(offset % layout.LINE_BYTES, 0, 'each array on a line of its own');
    }
    assert.equal(l.payloadArea % AREA_ALIGN, 0);
    assert.equal(l.resultArea % AREA_ALIGN, 0);
    assert.ok(l.totalBytes < 2 ** 32, 'the kernel takes the offsets as 32-bit words');
  }
});
