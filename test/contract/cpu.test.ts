// The contract suite on the cpu engine: the reference semantics, runnable anywhere Node runs.
import { runContractSuite } from './contract-suite.js';

runContractSuite({ name: 'cpu', options: { backend: 'cpu' } });
