// The public surface of gpuqueue: every export named.

export type { BatchPayloads, PackedPayloads } from './core/batch-payloads.js';
export type { Completion, CompletionBatch, CompletionStatus, DeadLetter } from './core/completions.js';
export { BatchStatus, createCompletionBatch } from './core/completions.js';
export {
  AbortedError,
  CudaError,
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
} from './core/errors.js';
export { HandlerStatus } from './core/handler-status.js';
export type { Backend, HandlerOption, QueueOptions } from './core/options.js';
export { DEFAULT_OPTIONS } from './core/options.js';
export type { Partitioner, PartitionerSpec } from './core/partitioners.js';
export {
  consistentHashPartitioner,
  createPartitioner,
  hashKey,
  hashPartitioner,
  rangePartitioner,
  roundRobinPartitioner,
} from './core/partitioners.js';
export type { EnqueueBatchOptions, EnqueueOptions, MessageKey } from './core/producer.js';
export type { LatencySummary, QueueStats } from './core/stats.js';
export type { EngineDiagnosis } from './engines/diagnose.js';
export { diagnoseEngines } from './engines/diagnose.js';
export type { RedisOptions } from './engines/redis/options.js';
export { DEFAULT_REDIS_OPTIONS } from './engines/redis/options.js';
export type { RedisWorkerOptions, RedisWorkerStats } from './engines/redis/worker.js';
export { RedisWorker } from './engines/redis/worker.js';
export { fnv1a } from './handlers/checksum/checksum.js';
export { faultFails } from './handlers/fault/fault.js';
export type { JsHandler, MessageView, ResultView } from './handlers/handler.js';
export { handlerNames } from './handlers/registry.js';
export { vectorStats } from './handlers/vector-stats/vector-stats.js';
export type { ProducerHandle, ResultOptions, ShutdownOptions, ShutdownReport, UndeliveredMessage } from './queue.js';
export { open, Queue } from './queue.js';
export { attachProducer, RemoteProducer } from './remote-producer.js';
