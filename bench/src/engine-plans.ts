// What `--engine <name>` runs: the matrix (full and --quick), how it becomes cases, what the table's ×
// column compares with, and the engines the run cannot do without. One entry per engine, so adding an
// engine is one entry here and its contenders; main.ts, matrix.ts and report.ts stay as they are.
import { type CaseSpec, type ContenderName, REDIS_CONTENDERS } from './contender.js';
import { CUDA_FULL, CUDA_QUICK, type GpuMatrixPlan, planGpuCases, WEBGPU_FULL, WEBGPU_QUICK } from './gpu-matrix.js';
import { FULL, type MatrixPlan, planCases, QUICK } from './matrix.js';
import { planRedisCases, REDIS_FULL, REDIS_QUICK } from './redis/matrix.js';
import type { Comparison } from './report.js';

export type AnyPlan = MatrixPlan | GpuMatrixPlan;

export interface EnginePlan<P extends AnyPlan = AnyPlan> {
  /** For --help. */
  summary: string;
  /** What --only may name. */
  contenders: readonly ContenderName[];
  full: P;
  quick: P;
  planCases(plan: P, only?: Set<string>): CaseSpec[];
  comparison: Comparison;
  /**
   * Engines this run is about: where one is not usable the run fails at once with the reason (a cuda run
   * without a GPU measures nothing it was asked for). Cases on other missing engines are skipped, each
   * reason printed and kept in the JSON.
   */
  requires: ('cuda' | 'webgpu')[];
}

const plan = <P extends AnyPlan>(p: EnginePlan<P>): EnginePlan => p as unknown as EnginePlan;

const isGpuqueueOn = (backend: string) => (s: CaseSpec) => s.contender === 'gpuqueue' && (s.backend ?? 'cpu') === backend;

export const ENGINE_PLANS: Record<string, EnginePlan> = {
  cpu: plan({
    summary: 'gpuqueue on the cpu engine against Piscina and a plain loop, with 0/1/5 % failures',
    contenders: ['gpuqueue', 'piscina-task', 'piscina-batched', 'plain-loop'],
    full: FULL,
    quick: QUICK,
    planCases,
    comparison: {
      column: '× vs Piscina batched',
      legend: "× vs Piscina batched: this row's msg/s ÷ Piscina's packed batches at the same payload and batch",
      isReference: (s) => s.contender === 'piscina-batched',
      ratio: 'row/ref',
    },
    requires: [],
  }),
  cuda: plan({
    summary:
      'gpuqueue on cuda (1-8 producer threads) against launch-per-batch and CUDA Graph replay by hand, and gpuqueue on cpu and webgpu',
    contenders: ['gpuqueue', 'cuda-launch', 'cuda-graph'],
    full: CUDA_FULL,
    quick: CUDA_QUICK,
    planCases: planGpuCases,
    comparison: {
      column: 'gpuqueue cuda ×',
      legend:
        "gpuqueue cuda ×: the best gpuqueue cuda msg/s at the same payload and batch (over producer threads; round trips: its round trip) ÷ this row's; > 1: gpuqueue cuda is ahead",
      isReference: isGpuqueueOn('cuda'),
      ratio: 'ref/row',
    },
    requires: ['cuda'],
  }),
  webgpu: plan({
    summary: 'gpuqueue on webgpu beside gpuqueue on cpu and (where there is a GPU) cuda',
    contenders: ['gpuqueue'],
    full: WEBGPU_FULL,
    quick: WEBGPU_QUICK,
    planCases: planGpuCases,
    comparison: {
      column: 'gpuqueue webgpu ×',
      legend: "gpuqueue webgpu ×: gpuqueue webgpu's msg/s at the same payload and batch ÷ this row's; > 1: webgpu is ahead",
      isReference: isGpuqueueOn('webgpu'),
      ratio: 'ref/row',
    },
    requires: ['webgpu'],
  }),
  redis: plan({
    summary: 'gpuqueue on Redis Streams against BullMQ and a hand-written XADD/XREADGROUP/XACK loop (a redis-server per case)',
    contenders: REDIS_CONTENDERS,
    full: REDIS_FULL,
    quick: REDIS_QUICK,
    planCases: planRedisCases,
    comparison: {
      column: '× vs BullMQ',
      legend: "× vs BullMQ: this row's msg/s ÷ BullMQ's at the same payload and batch",
      isReference: (s) => s.contender === 'bullmq',
      ratio: 'row/ref',
    },
    requires: [],
  }),
};

export const ENGINE_NAMES = Object.keys(ENGINE_PLANS);
