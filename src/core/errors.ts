// Every failure a caller can see: one base class and one subclass per status code of the original API
// (seed 004 `QueueStatus`), each with a stable `code` to match on. Messages name the bad value and what
// is allowed; wrapped native failures keep theirs in `cause`.

export const ErrorCode = {
  INVALID_ARG: 'INVALID_ARG',
  FULL: 'FULL',
  TIMEOUT: 'TIMEOUT',
  CUDA: 'CUDA',
  SHUTDOWN: 'SHUTDOWN',
  NOT_READY: 'NOT_READY',
  NOT_FOUND: 'NOT_FOUND',
  ABORTED: 'ABORTED',
  ENGINE_UNAVAILABLE: 'ENGINE_UNAVAILABLE',
  ENGINE_FAILED: 'ENGINE_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GpuQueueError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'GpuQueueError';
  }
}

/** A value given to the library is not allowed; the message names it and what is allowed. */
export class InvalidArgumentError extends GpuQueueError {
  constructor(message: string) {
    super(ErrorCode.INVALID_ARG, message);
    this.name = 'InvalidArgumentError';
  }
}

/** The queue holds `capacity` messages already; `tryEnqueue` fails at once rather than wait. */
export class QueueFullError extends GpuQueueError {
  constructor(message: string) {
    super(ErrorCode.FULL, message);
    this.name = 'QueueFullError';
  }
}

/** A wait (for space or for a result) outlasted its `timeoutMs`. */
export class TimeoutError extends GpuQueueError {
  /** For `enqueueBatch`: ids of the messages that got in before the time ran out. */
  readonly enqueuedIds: number[];
  constructor(message: string, enqueuedIds: number[] = []) {
    super(ErrorCode.TIMEOUT, message);
    this.name = 'TimeoutError';
    this.enqueuedIds = enqueuedIds;
  }
}

/** A CUDA driver or NVRTC call failed; `cudaErrorName` is the driver's own name (`CUDA_ERROR_…`). */
export class CudaError extends GpuQueueError {
  readonly cudaErrorName: string;
  constructor(message: string, cudaErrorName: string, options?: { cause?: unknown }) {
    super(ErrorCode.CUDA, message, options);
    this.name = 'CudaError';
    this.cudaErrorName = cudaErrorName;
  }
}

/** The queue is shutting down or shut down: no new messages, no new waits. */
export class ShutdownError extends GpuQueueError {
  constructor(message = 'the queue is shut down: open a new one to enqueue again') {
    super(ErrorCode.SHUTDOWN, message);
    this.name = 'ShutdownError';
  }
}

/** `tryDequeueResult`: the message is still queued or being processed. */
export class NotReadyError extends GpuQueueError {
  constructor(id: number) {
    super(ErrorCode.NOT_READY, `message ${id} is still queued or in flight`);
    this.name = 'NotReadyError';
  }
}

/** The id was never issued by this queue, or its result was already taken. */
export class NotFoundError extends GpuQueueError {
  constructor(message: string) {
    super(ErrorCode.NOT_FOUND, message);
    this.name = 'NotFoundError';
  }
}

/** An `AbortSignal` given to the call fired; `cause` is the signal's reason. */
export class AbortedError extends GpuQueueError {
  /** For `enqueueBatch`: ids of the messages that got in before the abort. */
  readonly enqueuedIds: number[];
  constructor(what: string, reason: unknown, enqueuedIds: number[] = []) {
    super(ErrorCode.ABORTED, `${what} was aborted`, { cause: reason });
    this.name = 'AbortedError';
    this.enqueuedIds = enqueuedIds;
  }
}

/** The chosen engine cannot run here; the message says exactly what is missing. */
export class EngineUnavailableError extends GpuQueueError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ENGINE_UNAVAILABLE, message, options);
    this.name = 'EngineUnavailableError';
  }
}

/** The engine's consumers died (a worker crashed, a GPU context was lost); unfinished messages stay in the ring. */
export class EngineFailedError extends GpuQueueError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ENGINE_FAILED, message, options);
    this.name = 'EngineFailedError';
  }
}

/** Describes a value for an error message: type and a short rendering. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} bytes)`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
