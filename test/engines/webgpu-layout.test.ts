// The WGSL side's copies of numbers the TypeScript owns must equal it: the slot outcome words and handler
// statuses in slot_layout.wgsl, and the kernel's message record and wrapper constants the host encodes. Also: with
// no `webgpu` package, the engine's error says what to install. None of this needs an adapter.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { AREA_ALIGN, OUTCOME_BYTES, SlotOutcome } from '../../src/core/slot-layout.js';
import { MESSAGE_RECORD_BYTES, MessageRecord, WORKGROUP_SIZE } from '../../src/engines/webgpu/batch-stage.js';
import { loadDawnFrom } from '../../src/engines/webgpu/dawn.js';
import { MAX_WRAPPERS, OUTCOME_KILLED_CONSUMER } from '../../src/engines/webgpu/kernel-source.js';

const kernels = new URL('../../../src/engines/webgpu/kernels/', import.meta.url);

/** `const NAME: u32 = literal;` of a WGSL file. */
function wgslConstants(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(new URL(file, kernels), 'utf8').split('\n')) {
    const m = /^const\s+(\w+)\s*:\s*u32\s*=\s*(0x[0-9a-fA-F]+|\d+)u\s*;/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

test('slot_layout.wgsl has the outcome size, outcome words and every handler status of the TypeScript, with the same values', () => {
  const wgsl = wgslConstants('slot_layout.wgsl');
  assert.equal(wgsl.get('OUTCOME_BYTES'), OUTCOME_BYTES);
  assert.equal(wgsl.get('AREA_ALIGN'), AREA_ALIGN);
  const outcomeWords = [...wgsl.keys()].filter((n) => n.startsWith('SLOT_OUTCOME_')).map((n) => n.slice('SLOT_OUTCOME_'.length));
  assert.deepEqual(outcomeWords.sort(), Object.keys(SlotOutcome).sort(), 'every outcome word, and no other');
  for (const name of outcomeWords)
    assert.equal(wgsl.get(`SLOT_OUTCOME_${name}`), SlotOutcome[name as keyof typeof SlotOutcome], `SlotOutcome.${name}`);
  assert.ok(![...wgsl.keys()].some((n) => n.startsWith('SLOT_HEADER_') || n === 'HEADER_BYTES'), 'the kernel reads no ring header');
  for (const [name, value] of Object.entries(HandlerStatus)) assert.equal(wgsl.get(`STATUS_${name}`), value, `STATUS_${name}`);
  const statuses = [...wgsl.keys()].filter((n) => n.startsWith('STATUS_')).map((n) => n.slice('STATUS_'.length));
  assert.deepEqual(statuses.sort(), Object.keys(HandlerStatus).sort(), 'no WGSL status without a TypeScript twin');
});

test("the batch kernel's record and wrapper constants equal what the host encodes", () => {
  const wgsl = wgslConstants('batch_consumer.wgsl');
  assert.equal((wgsl.get('MSG_RECORD_WORDS') ?? 0) * 4, MESSAGE_RECORD_BYTES);
  const recordWords = [...wgsl.keys()].filter((n) => n.startsWith('MSG_') && n !== 'MSG_RECORD_WORDS').map((n) => n.slice('MSG_'.length));
  assert.deepEqual(recordWords.sort(), Object.keys(MessageRecord).sort(), 'every message record word, and no other');
  for (const name of recordWords)
    assert.equal(wgsl.get(`MSG_${name}`), MessageRecord[name as keyof typeof MessageRecord], `MessageRecord.${name}`);
  assert.equal(wgsl.get('MAX_WRAPPERS'), MAX_WRAPPERS);
  assert.equal(wgsl.get('WRAPPER_FAULT'), 1);
  assert.equal(wgsl.get('WRAPPER_CRASH'), 2);
  assert.equal(wgsl.get('OUTCOME_KILLED_CONSUMER'), OUTCOME_KILLED_CONSUMER);
  const source = readFileSync(new URL('batch_consumer.wgsl', kernels), 'utf8');
  assert.match(source, new RegExp(`@workgroup_size\\(${WORKGROUP_SIZE}\\)`));
});

test('without the webgpu package, loading Dawn fails with ENGINE_UNAVAILABLE naming the package to install and what was tried', async () => {
  await assert.rejects(loadDawnFrom(['gpuqueue-no-such-package']), (error: Error & { code?: string }) => {
    assert.equal(error.name, 'EngineUnavailableError');
    assert.equal(error.code, ErrorCode.ENGINE_UNAVAILABLE);
    assert.match(error.message, /^the webgpu engine cannot run here: the optional package `webgpu`/);
    assert.match(error.message, /npm install webgpu/);
    assert.match(error.message, /gpuqueue-no-such-package/);
    return true;
  });
});
