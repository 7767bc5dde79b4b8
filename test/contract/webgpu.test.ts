// The contract suite on the webgpu engine: WGSL handlers in batches through Dawn (on a machine without a
// GPU, Mesa's lavapipe: ci/install-lavapipe.sh). Skipped, with the reason, where Dawn finds no adapter.
import { probeWebGpu } from '../../src/engines/webgpu/dawn.js';
import { runContractSuite } from './contract-suite.js';

const probe = await probeWebGpu();
const skipReason = probe.usable ? undefined : `the webgpu engine cannot run here: ${probe.reason}`;
if (skipReason) console.log(`# webgpu contract skipped: ${skipReason}`);

runContractSuite({ name: 'webgpu', options: { backend: 'webgpu' }, ...(skipReason ? { skipReason } : {}) });
