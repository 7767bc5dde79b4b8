// The contract suite on `backend: 'auto'`: whichever engine auto picks here must keep the same contract
// (and a machine without a GPU is never a reason for auto to fail).
import { cudaReady } from '../../src/engines/cuda/plan.js';
import { runContractSuite } from './contract-suite.js';

// On a GPU machine auto picks cuda, whose blocks take a shard's whole backlog at once.
runContractSuite({ name: 'auto', options: { backend: 'auto' }, runsShardInParallel: cudaReady() });
