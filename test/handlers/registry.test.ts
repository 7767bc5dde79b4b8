// The handler registry: built-ins by name, wrappers resolved recursively into plain-data specs, unknown
// names refused with the list of known ones, and each handler's result size.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handlerNames, handlerResultBytes, resolveHandler } from '../../src/handlers/registry.js';

describe('handler registry', () => {
  it('knows the five built-ins', () => {
    for (const name of ['echo', 'checksum', 'vector-stats', 'fault', 'slow']) assert.ok(handlerNames().includes(name), name);
  });

  it('resolves names and wrappers into plain data that survives structured cloning', () => {
    const spec = resolveHandler({ name: 'slow', inner: { name: 'fault', inner: 'checksum', failRate: 0.5 }, delayUs: 5 });
    assert.deepEqual(spec, {
      name: 'slow',
      params: {
        inner: {
          name: 'fault',
          params: { inner: { name: 'checksum', params: {} }, failRate: 0.5, failAttempts: Number.POSITIVE_INFINITY, seed: 0 },
        },
        delayUs: 5,
      },
    });
    assert.deepEqual(structuredClone(spec), spec);
    assert.deepEqual(resolveHandler('echo'), { name: 'echo', params: {} });
  });

  it('refuses an unknown handler, also as a wrapper’s inner, listing the known ones', () => {
    const message = new RegExp(`^unknown handler "nope"; known handlers: ${handlerNames().join(', ')}$`);
    assert.throws(() => resolveHandler('nope'), { code: 'INVALID_ARG', message });
    assert.throws(() => resolveHandler({ name: 'fault', inner: 'nope' }), { code: 'INVALID_ARG', message });
  });

  it('refuses a parameter the handler does not have, listing the ones it has', () => {
    assert.throws(() => resolveHandler({ name: 'checksum', seed: 1 }), {
      code: 'INVALID_ARG',
      message: 'handler checksum has no parameter "seed"; its parameters: none',
    });
    assert.throws(() => resolveHandler({ name: 'fault', inner: 'echo', failrate: 0.5 }), {
      code: 'INVALID_ARG',
      message: 'handler fault has no parameter "failrate"; its parameters: inner, failRate, failAttempts, seed',
    });
  });

  it('refuses a wrapper without inner', () => {
    assert.throws(() => resolveHandler({ name: 'fault' }), {
      code: 'INVALID_ARG',
      message: "handler fault wraps another: give its name as `inner` (e.g. inner: 'checksum')",
    });
  });

  it('sizes results by handler: 4 for checksum, 16 for vector-stats, slotBytes for echo, the inner one for wrappers', () => {
    assert.equal(handlerResultBytes(resolveHandler('checksum'), 2048), 4);
    assert.equal(handlerResultBytes(resolveHandler('vector-stats'), 2048), 16);
    assert.equal(handlerResultBytes(resolveHandler('echo'), 2048), 2048);
    assert.equal(handlerResultBytes(resolveHandler({ name: 'slow', inner: { name: 'fault', inner: 'checksum' } }), 2048), 4);
  });
});
