// gpuqueue doctor, run as a user would: one JSON object that says what each engine has here (or exactly
// why it cannot run), what auto picks, and a recommended config consistent with both.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EngineDiagnosis } from '../../src/index.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('gpuqueue doctor --json reports every engine, what auto picks and a config that matches it', () => {
  const out = execFileSync(process.execPath, [cli, 'doctor', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  const d = JSON.parse(out) as EngineDiagnosis;
  assert.equal(d.node, process.version);
  assert.ok(d.cpu.cores >= 1 && d.memoryBytes > 0);
  if (d.cuda.usable) {
    assert.ok(d.cuda.device.name.length > 0 && d.cuda.device.smCount > 0, 'a usable GPU is described');
  } else {
    assert.ok(d.cuda.reason.length > 20, `an unusable GPU says why: ${d.cuda.reason}`);
  }
  if (!d.webgpu.usable) assert.ok(d.webgpu.reason.length > 0, 'no adapter says why');
  if (d.webgpu.usable) {
    // The adapter the engine takes is among those listed, each with the limits that bound a batch.
    const listed = d.webgpuAdapters.find((a) => a.name === (d.webgpu.usable ? d.webgpu.adapter.name : ''));
    assert.ok(listed?.foundBy.includes('high-performance'), JSON.stringify(d.webgpuAdapters));
    for (const a of d.webgpuAdapters) assert.ok((a.limits.maxStorageBufferBindingSize ?? 0) > 0 && (a.limits.maxBufferSize ?? 0) > 0);
  } else {
    assert.deepEqual(d.webgpuAdapters, []);
  }
  if (d.nvrtc.usable) assert.match(d.nvrtc.version, /^\d+\.\d+$/);
  else assert.match(d.nvrtc.reason, /libnvrtc|koffi/);
  const expected = d.cuda.usable && d.cuda.kernelsBuilt ? 'cuda' : d.webgpu.usable && !d.webgpu.adapter.software ? 'webgpu' : 'cpu';
  assert.equal(d.auto, expected);
  assert.equal(d.recommended.backend, d.auto);
  assert.equal(d.recommended.options.backend, 'auto');
  assert.ok(d.recommended.why.length > 0);
});
