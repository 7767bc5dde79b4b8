// The contract suite on `backend: 'auto'`: whichever engine auto picks here must keep the same contract
// (and a machine without a GPU is never a reason for auto to fail).
import { runContractSuite } from './contract-suite.js';

runContractSuite({ name: 'auto', options: { backend: 'auto' } });
