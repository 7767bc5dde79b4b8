// The public surface of gpuqueue: every export named.
export { open, Queue } from './queue.js';
export type { ProducerHandle, ResultOptions, ShutdownOptions, ShutdownReport, UndeliveredMessage } from './queue.js';
export { attachProducer, RemoteProducer } from './remote-producer.js';
export type { QueueOptions, Backend, HandlerOption } from './core/options.js';
export { DEFAULT_OPTIONS } from './core/options.js';
export type { EnqueueOptions, EnqueueBatchOptions, MessageKey } from './core/producer.js';
export type { Completion, CompletionStatus, DeadLetter } from './core/completions.js';
export type { QueueStats, LatencySummary } from './core/stats.js';
export {
  ErrorCode,
  GpuQueueError,
  InvalidArgumentError,
  QueueFullError,
  TimeoutError,
  CudaError,
  ShutdownError,
  NotReadyError,
  NotFoundError,
  AbortedError,
  EngineUnavailableError,
  EngineFailedError,
} from './core/errors.js';
export {
  hashKey,
  hashPartitioner,
  roundRobinPartitioner,
  consistentHashPartitioner,
  rangePartitioner,
  createPartitioner,
} from './core/partitioners.js';
export type { Partitioner, PartitionerSpec } from './core/partitioners.js';
export { HandlerStatus } from './core/handler-status.js';
export { handlerNames } from './handlers/registry.js';
export type { MessageView, ResultView, JsHandler } from './handlers/handler.js';
export { fnv1a } from './handlers/checksum/checksum.js';
export { vectorStats } from './handlers/vector-stats/vector-stats.js';
export { faultFails } from './handlers/fault/fault.js';
