// What a worker needs to run a producer's batches: the handler (its plain-data spec) and the ring
// geometry. A producer stores it once under gq:{<name>}:config:<digest> and names the digest in every
// entry, so one fleet of workers serves producers with different handlers. JSON with non-finite
// numbers kept (the fault handler's `failAttempts: Infinity`).
import { createHash } from 'node:crypto';
import type { HandlerSpec } from '../../handlers/handler.js';

export interface BatchConfig {
  handler: HandlerSpec;
  slotBytes: number;
  resultBytes: number;
  maxRetries: number;
}

const NON_FINITE = '__gq_number__';

export function encodeBatchConfig(config: BatchConfig): string {
  return JSON.stringify(config, (_key, value) =>
    typeof value === 'number' && !Number.isFinite(value) ? { [NON_FINITE]: String(value) } : value,
  );
}

export function decodeBatchConfig(text: string): BatchConfig {
  const config = JSON.parse(text, (_key, value) =>
    value !== null && typeof value === 'object' && typeof value[NON_FINITE] === 'string' ? Number(value[NON_FINITE]) : value,
  ) as BatchConfig;
  if (typeof config?.handler?.name !== 'string' || !Number.isInteger(config.slotBytes) || !Number.isInteger(config.resultBytes)) {
    throw new Error(`not a gpuqueue batch config: ${text.slice(0, 80)}`);
  }
  return config;
}

export const configDigest = (encoded: string): string => createHash('sha1').update(encoded).digest('hex').slice(0, 16);
