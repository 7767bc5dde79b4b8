// The status a handler returns for one attempt, the same numbers in JS, CUDA and WGSL. 0 is success;
// anything else fails the attempt (it is retried, then dead-lettered with this status as the reason).
export const HandlerStatus = {
  OK: 0,
  /** The handler reported a failure (the fault-injection handler uses this). */
  FAILED: 1,
  /** The handler tried to write more than `resultBytes`. */
  RESULT_TOO_LARGE: 2,
  /** The payload is not what the handler accepts (e.g. a vector handler given a length not divisible by 4). */
  BAD_PAYLOAD: 3,
  /** The JS implementation threw. */
  THREW: 4,
  /** The consumer died while running it (a worker thread exited, a GPU context was lost) on every attempt. */
  CONSUMER_DIED: 5,
} as const;

export const describeHandlerStatus = (status: number): string =>
  Object.entries(HandlerStatus).find(([, v]) => v === status)?.[0] ?? `status ${status}`;
