// SIGTERM with messages in flight, against `gpuqueue serve` as a child process: the server stops taking
// messages, the queue finishes what it holds, every accepted message's result reaches its client, and
// the process exits 0. Nothing accepted is lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { frames, postBytes } from './server-kit.js';

const CHILD = fileURLToPath(new URL('./serve-child.js', import.meta.url));

describe('gpuqueue serve: SIGTERM', () => {
  it('drains in-flight messages, hands every result over, then exits', async () => {
    const child = spawn(
      process.execPath,
      [
        CHILD,
        '--port',
        '0',
        '--engine',
        'cpu',
        '--workers',
        '1',
        '--capacity',
        '64',
        '--slot-bytes',
        '64',
        '--handler',
        '{"name":"slow","inner":"checksum","delayUs":5000}',
        '--drain-timeout-ms',
        '10000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    while (!/listening on (\S+)/.test(stdout)) {
      if (child.exitCode !== null) assert.fail(`serve exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = (/listening on (\S+)/.exec(stdout) as RegExpExecArray)[1] as string;
    // 60 messages × 5 ms on one worker: about 300 ms of work queued when SIGTERM lands.
    const res = await postBytes(`${url}/queues/default/batch`, frames(Array.from({ length: 60 }, (_, i) => Buffer.from([i]))));
    const { ids } = (await res.json()) as { ids: number[] };
    assert.equal(ids.length, 60);
    const results = ids.map((id) =>
      fetch(`${url}/queues/default/results/${id}?timeoutMs=20000`).then(async (r) => [r.status, await r.json()]),
    );
    await new Promise((r) => setTimeout(r, 30));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    // Wait until the server says it is draining (a fixed sleep lost the race on a loaded machine).
    for (const until = Date.now() + 10_000; !/SIGTERM: draining/.test(stdout) && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const refused = await postBytes(`${url}/queues/default/messages`, Buffer.from('late')).catch((e: Error) => e);
    if (!(refused instanceof Error)) {
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { code: string }).code, 'SHUTDOWN');
    }
    const ready = await fetch(`${url}/readyz`).catch((e: Error) => e);
    if (!(ready instanceof Error)) assert.equal(ready.status, 503, 'not ready while draining');
    const settled = await Promise.all(results);
    for (const [i, [status, body]] of settled.entries()) {
      assert.equal(status, 200, `message ${ids[i]}: ${JSON.stringify(body)}`);
      assert.equal((body as { status: string }).status, 'ok');
    }
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /SIGTERM: draining/);
    assert.match(stdout, /drained in \d+ ms/);
  });
});
