// Why a GPU or toolkit test cannot run here, printed once per file: every cuda test file skips for the
// same reasons, worded the same way. Nothing here registers tests.
import { execFileSync } from 'node:child_process';
import { probeCuda } from '../../src/engines/cuda/driver/probe.js';
import { cudaReady } from '../../src/engines/cuda/plan.js';

/**
 * Why the cuda engine cannot run here (no usable GPU, kernels not built, or what `alsoNeeds` says is
 * missing), or false; printed as `# <what> skipped: …`.
 */
export function cudaSkip(what: string, alsoNeeds: () => string | false = () => false): string | false {
  const probe = probeCuda();
  const reason = !probe.usable
    ? `no usable GPU: ${probe.reason}`
    : !cudaReady()
      ? 'cuda kernels not built: npm run build:kernels'
      : alsoNeeds();
  if (reason) console.log(`# ${what} skipped: ${reason}`);
  return reason;
}

/** The nvcc the kernel build uses (NVCC overrides). */
export const NVCC = process.env.NVCC ?? 'nvcc';

/** Why nvcc cannot run here, or false. */
export function nvccMissing(): string | false {
  try {
    execFileSync(NVCC, ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return `nvcc not found (${NVCC}): install the CUDA toolkit or set NVCC`;
  }
}
