// One mapping from failures to HTTP answers, so every route says the same thing: the library's errors keep
// their `code` (FULL → 429, SHUTDOWN → 503, …); transport failures (oversize body, wrong content type,
// malformed JSON) become INVALID_ARG with their own status. Two codes exist only here: UNAUTHORIZED, INTERNAL.
import { ErrorCode, GpuQueueError, TimeoutError } from '../index.js';

export const ServerErrorCode = { UNAUTHORIZED: 'UNAUTHORIZED', INTERNAL: 'INTERNAL' } as const;
export type HttpErrorCode = ErrorCode | (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

export interface ErrorBody {
  code: HttpErrorCode;
  message: string;
  /** For a batch that timed out part way: the messages that were accepted (each will complete). */
  enqueuedIds?: number[];
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** Seconds, for 429/503. */
  retryAfterS?: number;
}

/** A failure of the HTTP layer itself, carrying its status. */
export class HttpFailure extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  constructor(status: number, code: HttpErrorCode, message: string) {
    super(message);
    this.name = 'HttpFailure';
    this.status = status;
    this.code = code;
  }
}

const STATUS: Record<ErrorCode, number> = {
  INVALID_ARG: 400,
  FULL: 429,
  TIMEOUT: 503,
  CUDA: 500,
  SHUTDOWN: 503,
  NOT_READY: 202,
  NOT_FOUND: 404,
  ABORTED: 499,
  ENGINE_UNAVAILABLE: 503,
  ENGINE_FAILED: 503,
};

const RETRY_AFTER_S: Partial<Record<ErrorCode, number>> = { FULL: 1, TIMEOUT: 1, SHUTDOWN: 5, ENGINE_FAILED: 5 };

/** Fastify's own errors (body parsing, limits) carry a statusCode; they are the caller's mistakes. */
interface StatusError {
  statusCode?: number;
  message: string;
}

export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpFailure) {
    return { status: error.status, body: { code: error.code, message: error.message } };
  }
  if (error instanceof GpuQueueError) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error instanceof TimeoutError && error.enqueuedIds.length > 0) body.enqueuedIds = error.enqueuedIds;
    const retryAfterS = RETRY_AFTER_S[error.code];
    return { status: STATUS[error.code], body, ...(retryAfterS === undefined ? {} : { retryAfterS }) };
  }
  const status = (error as StatusError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = (error as StatusError).message;
    if (status === 404) return { status, body: { code: ErrorCode.NOT_FOUND, message } };
    return { status, body: { code: ErrorCode.INVALID_ARG, message } };
  }
  return { status: 500, body: { code: ServerErrorCode.INTERNAL, message: 'internal error (see the server log)' } };
}
