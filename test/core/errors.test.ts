// Errors (core/errors.ts): one class per failure, each an Error and a GpuQueueError with its own name and
// stable code, and describeValue renders what a caller passed in a way an error message can name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbortedError,
  CudaError,
  describeValue,
  EngineFailedError,
  EngineUnavailableError,
  ErrorCode,
  GpuQueueError,
  InvalidArgumentError,
  NotFoundError,
  NotReadyError,
  QueueFullError,
  ShutdownError,
  TimeoutError,
} from '../../src/core/errors.js';

describe('error classes', () => {
  it('each have their own name and code, and are GpuQueueErrors and Errors', () => {
    const cause = new Error('root');
    const cases: [GpuQueueError, string, string][] = [
      [new InvalidArgumentError('m'), 'InvalidArgumentError', ErrorCode.INVALID_ARG],
      [new QueueFullError('m'), 'QueueFullError', ErrorCode.FULL],
      [new TimeoutError('m'), 'TimeoutError', ErrorCode.TIMEOUT],
      [new CudaError('m', 'CUDA_ERROR_ILLEGAL_ADDRESS'), 'CudaError', ErrorCode.CUDA],
      [new ShutdownError(), 'ShutdownError', ErrorCode.SHUTDOWN],
      [new NotReadyError(3), 'NotReadyError', ErrorCode.NOT_READY],
      [new NotFoundError('m'), 'NotFoundError', ErrorCode.NOT_FOUND],
      [new AbortedError('enqueue', cause), 'AbortedError', ErrorCode.ABORTED],
      [new EngineUnavailableError('m'), 'EngineUnavailableError', ErrorCode.ENGINE_UNAVAILABLE],
      [new EngineFailedError('m'), 'EngineFailedError', ErrorCode.ENGINE_FAILED],
    ];
    for (const [error, name, code] of cases) {
      assert.ok(error instanceof GpuQueueError && error instanceof Error, name);
      assert.equal(error.name, name);
      assert.equal(error.code, code);
      assert.ok(error.message.length > 0);
    }
    assert.equal(new Set(cases.map(([, , code]) => code)).size, cases.length, 'codes are distinct');
    assert.deepEqual(Object.keys(ErrorCode), Object.values(ErrorCode), 'each code is spelled as its key');
  });

  it('carry what the caller needs: the CUDA error name, the cause, the ids that got in, the id not ready', () => {
    assert.equal(new CudaError('m', 'CUDA_ERROR_LAUNCH_FAILED').cudaErrorName, 'CUDA_ERROR_LAUNCH_FAILED');
    const reason = new Error('stop');
    const aborted = new AbortedError('enqueueBatch', reason, [4, 5]);
    assert.equal(aborted.cause, reason);
    assert.equal(aborted.message, 'enqueueBatch was aborted');
    assert.deepEqual(aborted.enqueuedIds, [4, 5]);
    assert.deepEqual(new TimeoutError('m', [1]).enqueuedIds, [1]);
    assert.equal(new NotReadyError(42).message, 'message 42 is still queued or in flight');
    assert.equal(new EngineFailedError('m', { cause: reason }).cause, reason);
  });
});

describe('describeValue', () => {
  it('names the type and a short rendering of any value', () => {
    const cases: [unknown, string][] = [
      [null, 'null'],
      [undefined, 'undefined'],
      ['abc', '"abc"'],
      ['y'.repeat(41), `"${'y'.repeat(40)}…"`],
      [42, '42'],
      [Number.NaN, 'NaN'],
      [10n, '10'],
      [true, 'true'],
      [new Uint8Array(3), 'Uint8Array(3 bytes)'],
      [new Float32Array(2), 'Float32Array(8 bytes)'],
      [[1, 2], 'an array of 2'],
      [new Map(), 'a Map'],
      [{}, 'an object'],
      [{ a: 1 }, 'an object'],
      [Object.create(null), 'an object'],
    ];
    for (const [value, shown] of cases) assert.equal(describeValue(value), shown);
  });
});
