// checksum: FNV-1a 32 of the payload as 4 little-endian bytes; fnv1a is the reference every engine matches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerStatus } from '../../src/core/handler-status.js';
import { fnv1a } from '../../src/handlers/checksum/checksum.js';
import { randomBytes, randomInt, seededRandom } from '../support/contract-kit.js';
import { handlerRunner } from '../support/run-handler.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('fnv1a', () => {
  it('gives the published FNV-1a 32 test vectors', () => {
    assert.equal(fnv1a(ascii('')), 0x811c9dc5);
    assert.equal(fnv1a(ascii('a')), 0xe40c292c);
    assert.equal(fnv1a(ascii('foobar')), 0xbf9cf968);
  });

  it('hashes only bytes[from, to)', () => {
    const bytes = ascii('xxfoobarxx');
    assert.equal(fnv1a(bytes, 2, 8), fnv1a(ascii('foobar')));
  });
});

describe('checksum handler', () => {
  it('writes fnv1a of the payload as 4 little-endian bytes, for payloads of 0 to 2048 bytes', () => {
    const run = handlerRunner('checksum', 4);
    const rand = seededRandom(11);
    for (let i = 0; i < 300; i++) {
      const payload = randomBytes(rand, i < 3 ? i : randomInt(rand, 2049));
      const { status, result } = run(payload);
      assert.equal(status, HandlerStatus.OK);
      const h = fnv1a(payload);
      assert.deepEqual([...result], [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, h >>> 24]);
    }
  });

  it('returns RESULT_TOO_LARGE when fewer than 4 result bytes are available', () => {
    assert.equal(handlerRunner('checksum', 3)(ascii('abc')).status, HandlerStatus.RESULT_TOO_LARGE);
  });
});
