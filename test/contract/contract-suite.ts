// The contract every engine keeps (DESIGN.md §3, §5): one suite, run by each engine's test file with that
// engine's options. An engine that cannot run here passes a skipReason and every case reports as skipped
// with it. The cases live in ./cases/, one file per part of the contract.
import { describe, it } from 'node:test';
import { CASE_TIMEOUT_MS, type CaseRegistrar, type ContractEngine } from '../support/contract-kit.js';
import { abortCases } from './cases/abort.js';
import { backpressureCases } from './cases/backpressure.js';
import { badInputCases } from './cases/bad-input.js';
import { bulkCompletionCases } from './cases/bulk-completions.js';
import { deliveryCases } from './cases/delivery.js';
import { faultCases } from './cases/faults.js';
import { lifecycleCases } from './cases/lifecycle.js';
import { orderingCases } from './cases/ordering.js';
import { producerThreadCases } from './cases/producer-threads.js';
import { shutdownCases } from './cases/shutdown.js';

export type { ContractEngine } from '../support/contract-kit.js';

export function runContractSuite(engine: ContractEngine): void {
  const test: CaseRegistrar = (name, body) => {
    it(name, { skip: engine.skipReason ?? false, timeout: CASE_TIMEOUT_MS }, body);
  };
  describe(`the ${engine.name} engine keeps the queue contract`, () => {
    describe('delivery', () => deliveryCases(engine, test));
    describe('retries and dead letters', () => faultCases(engine, test));
    describe('per-key FIFO', () => orderingCases(engine, test));
    describe('backpressure', () => backpressureCases(engine, test));
    describe('shutdown', () => shutdownCases(engine, test));
    describe('several producer threads', () => producerThreadCases(engine, test));
    describe('abort signals', () => abortCases(engine, test));
    describe('bad input', () => badInputCases(engine, test));
    describe('ids, disposal, pause and stats', () => lifecycleCases(engine, test));
    describe('bulk completions (pollCompletionsInto)', () => bulkCompletionCases(engine, test));
  });
}
