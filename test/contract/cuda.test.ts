// The contract suite on the cuda engine: the same cases as every engine, run on a real GPU; skipped with
// the reason where no usable GPU (or no built kernel) is here.
import { probeCuda } from '../../src/engines/cuda/driver/probe.js';
import { cudaReady } from '../../src/engines/cuda/plan.js';
import { runContractSuite } from './contract-suite.js';

function skipReason(): string | undefined {
  const probe = probeCuda();
  if (!probe.usable) return `no usable GPU: ${probe.reason}`;
  if (!cudaReady()) return 'the cuda kernels are not built: run npm run build:kernels';
  return undefined;
}

const reason = skipReason();
if (reason) console.log(`# cuda contract suite skipped: ${reason}`);
runContractSuite({ name: 'cuda', options: { backend: 'cuda' }, runsShardInParallel: true, ...(reason ? { skipReason: reason } : {}) });
