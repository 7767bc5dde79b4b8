// The two launch-per-batch baselines, written the way a user would by hand with the driver API: pack the
// batch into pinned host memory, cuMemcpyHtoDAsync, launch gq_baseline_batch (one thread per message,
// the same device `process_message` as the persistent kernel), cuMemcpyDtoHAsync the results, wait,
// unpack and check every result. `launch` issues the three calls per batch; `graph` captures them once
// per lane (stream capture) and replays them with one cuGraphLaunch per batch.
//
// Waiting: cuStreamQuery once per event-loop turn (setImmediate), not cuStreamSynchronize. Two batches
// are in flight (runner.ts): while one lane's batch is on the GPU the event loop packs and issues the
// other's, which a blocking synchronize would forbid; it is also what a Node.js service must do to keep
// serving, and what gpuqueue's own harvester does. Costs one query per turn while the GPU works.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { CudaDriver, loadCudaLibrary, type NativePointer, type PinnedHostBuffer, probeCuda } from 'gpuqueue/cuda-driver';
import type { Batch, CaseSpec, Contender, Probe } from './contender.js';
import {
  BASELINE_BLOCK_THREADS,
  type BatchLayout,
  countChecksumMismatches,
  encodeParams,
  packBatch,
  planBatchLayout,
} from './cuda-batch-layout.js';
import { BATCHES_IN_FLIGHT } from './runner.js';

export type BaselineMode = 'launch' | 'graph';

const KERNEL = 'gq_baseline_batch';
/** The checksum handler's result: 4 bytes. */
const RESULT_CAP = 4;

interface Lane {
  stream: NativePointer;
  input: PinnedHostBuffer;
  output: PinnedHostBuffer;
  device: bigint;
  graph?: NativePointer;
  exec?: NativePointer;
}

/** Where the baseline PTX is: GPUQUEUE_CUDA_KERNELS_DIR (as for the engine), else gpuqueue's dist/kernels. */
export function baselinePtxPath(leaf = 'checksum'): string {
  const dir = process.env.GPUQUEUE_CUDA_KERNELS_DIR
    ? resolve(process.env.GPUQUEUE_CUDA_KERNELS_DIR)
    : join(dirname(createRequire(import.meta.url).resolve('gpuqueue/package.json')), 'dist', 'kernels');
  return join(dir, `baseline_${leaf}.ptx`);
}

/** A contender module's functions for one baseline mode (contenders/cuda-launch.ts, cuda-graph.ts). */
export function baselineContender(mode: BaselineMode): Required<Contender> {
  let baseline: CudaBatchBaseline;
  return {
    setup: async (spec: CaseSpec, probe: Probe) => {
      baseline = new CudaBatchBaseline(mode, spec.batch, spec.payloadBytes, probe);
    },
    run: (batch: Batch) => baseline.run(batch),
    roundTrip: (payload: Uint8Array) => baseline.roundTrip(payload),
    teardown: async () => baseline.close(),
  };
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

export class CudaBatchBaseline {
  private readonly driver: CudaDriver;
  private readonly deviceHandle: number;
  private readonly module: NativePointer;
  private readonly fn: NativePointer;
  private readonly layout: BatchLayout;
  private readonly params: Uint8Array;
  private readonly grid: number;
  private readonly free: Lane[] = [];
  private readonly lanes: Lane[] = [];
  readonly device: string;

  constructor(
    readonly mode: BaselineMode,
    batch: number,
    payloadBytes: number,
    private readonly probe: Probe,
  ) {
    const found = probeCuda();
    if (!found.usable) throw new Error(`the CUDA baselines cannot run here: ${found.reason}`);
    this.device = found.device.name;
    const ptxPath = baselinePtxPath();
    let ptx: string;
    try {
      ptx = readFileSync(ptxPath, 'latin1');
    } catch (error) {
      throw new Error(`no baseline kernel at ${ptxPath}: run \`node scripts/build-kernels.mjs\` (needs nvcc)`, { cause: error });
    }
    this.driver = new CudaDriver(loadCudaLibrary());
    this.deviceHandle = this.driver.device(0);
    this.driver.retainPrimaryContext(this.deviceHandle);
    this.module = this.driver.loadModule(ptx);
    this.fn = this.driver.kernel(this.module, KERNEL);
    this.layout = planBatchLayout(batch, payloadBytes, RESULT_CAP);
    this.params = encodeParams(this.layout);
    this.grid = Math.ceil(batch / BASELINE_BLOCK_THREADS);
    for (let i = 0; i < BATCHES_IN_FLIGHT; i++) {
      const lane: Lane = {
        stream: this.driver.createStream(),
        input: this.driver.allocPinnedHost(this.layout.inputBytes),
        output: this.driver.allocPinnedHost(this.layout.outputBytes),
        device: this.driver.allocDevice(this.layout.deviceBytes),
      };
      this.lanes.push(lane);
      if (mode === 'graph') this.capture(lane);
      this.free.push(lane);
    }
  }

  /** The copy-launch-copy of one batch, in stream order on the lane's stream. */
  private issue(lane: Lane): void {
    const { driver, layout } = this;
    driver.copyToDeviceAsync(lane.device, lane.input, layout.inputBytes, lane.stream);
    driver.launch(this.fn, this.grid, BASELINE_BLOCK_THREADS, 0, lane.stream, lane.device, this.params);
    driver.copyToHostAsync(lane.output, lane.device + BigInt(layout.outputOffset), layout.outputBytes, lane.stream);
  }

  /** Records issue() once into a graph for this lane (the batch size is fixed for the whole case). */
  private capture(lane: Lane): void {
    this.driver.beginCapture(lane.stream);
    try {
      this.issue(lane);
    } finally {
      lane.graph = this.driver.endCapture(lane.stream);
    }
    lane.exec = this.driver.instantiateGraph(lane.graph);
  }

  async run(batch: Batch): Promise<void> {
    const lane = this.free.pop();
    if (!lane) throw new Error(`more than ${BATCHES_IN_FLIGHT} batches in flight`);
    try {
      const started = performance.now();
      packBatch(this.layout, batch.payloads, lane.input.bytes);
      if (lane.exec !== undefined) this.driver.launchGraph(lane.exec, lane.stream);
      else this.issue(lane);
      while (this.driver.streamState(lane.stream) === 'running') await nextTurn();
      this.probe.mismatches += countChecksumMismatches(this.layout, lane.output.bytes, batch.expected);
      this.probe.recordNs((performance.now() - started) * 1e6, batch.payloads.length);
    } finally {
      this.free.push(lane);
    }
  }

  /** One message there and back through the same path (a batch of one); resolves with its checksum. */
  async roundTrip(payload: Uint8Array): Promise<number> {
    const lane = this.free.pop();
    if (!lane) throw new Error('the round trip needs a free lane');
    try {
      packBatch(this.layout, [payload], lane.input.bytes);
      if (lane.exec !== undefined) this.driver.launchGraph(lane.exec, lane.stream);
      else this.issue(lane);
      while (this.driver.streamState(lane.stream) === 'running') await nextTurn();
      const view = new DataView(lane.output.bytes.buffer, lane.output.bytes.byteOffset, this.layout.outputBytes);
      return view.getUint32(0, true) === 0 ? view.getUint32(this.layout.resultsOffset, true) : -1;
    } finally {
      this.free.push(lane);
    }
  }

  close(): Record<string, unknown> {
    const { driver } = this;
    for (const lane of this.lanes) {
      driver.synchronizeStream(lane.stream);
      if (lane.exec !== undefined) driver.destroyGraphExec(lane.exec);
      if (lane.graph !== undefined) driver.destroyGraph(lane.graph);
      driver.destroyStream(lane.stream);
      driver.freeDevice(lane.device);
      driver.freePinnedHost(lane.input);
      driver.freePinnedHost(lane.output);
    }
    driver.unloadModule(this.module);
    driver.releasePrimaryContext(this.deviceHandle);
    return {
      device: this.device,
      mode: this.mode,
      lanes: this.lanes.length,
      wait: 'cuStreamQuery once per event-loop turn',
      grid: this.grid,
      blockThreads: BASELINE_BLOCK_THREADS,
      inputBytesPerBatch: this.layout.inputBytes,
      outputBytesPerBatch: this.layout.outputBytes,
    };
  }
}
