// `gpuqueue doctor`: what this machine offers each engine (the GPU, or exactly why there is none), what
// `auto` picks, and a config to start from. `--json` prints the same as one JSON object.
import Table from 'cli-table3';
import { Command } from 'commander';
import { diagnoseEngines, type EngineDiagnosis } from '../index.js';

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

function rows(d: EngineDiagnosis): [string, string][] {
  const out: [string, string][] = [
    ['node', `${d.node} (${d.platform})`],
    ['cpu', `${d.cpu.model}, ${d.cpu.cores} cores, ${gib(d.memoryBytes)}`],
  ];
  if (d.cuda.usable) {
    const g = d.cuda.device;
    const link = g.pcie ? `PCIe Gen${g.pcie.gen} x${g.pcie.width} (max Gen${g.pcie.maxGen} x${g.pcie.maxWidth})` : 'PCIe link unknown';
    out.push(['cuda', `${g.name}, compute ${g.computeCapability}, ${g.smCount} SMs, ${gib(g.memoryBytes)}, ${link}`]);
    out.push(['cuda driver', `${g.driverVersion ?? 'version unknown'} (CUDA ${g.driverCudaVersion}), ${g.library}`]);
    out.push(['cuda kernels', d.cuda.kernelsBuilt ? 'built' : 'not built: npm run build:kernels']);
  } else {
    out.push(['cuda', `unusable: ${d.cuda.reason}`]);
  }
  out.push([
    'nvrtc',
    d.nvrtc.usable ? `${d.nvrtc.version} (${d.nvrtc.path}): handler 'cuda' (CUDA source) can compile` : `unusable: ${d.nvrtc.reason}`,
  ]);
  out.push([
    'webgpu',
    d.webgpu.usable ? `${d.webgpu.adapter.name}${d.webgpu.adapter.software ? ' (software)' : ''}` : `unusable: ${d.webgpu.reason}`,
  ]);
  for (const a of d.webgpuAdapters) {
    const limits = Object.entries(a.limits)
      .map(([k, v]) => `${k} ${v >= 2 ** 20 ? `${Math.round(v / 2 ** 20)} MiB` : v}`)
      .join(', ');
    out.push([`  adapter`, `${a.name}${a.software ? ' (software)' : ''}, found by ${a.foundBy.join(' / ')}: ${limits}`]);
  }
  out.push(['auto picks', d.auto]);
  out.push(['recommended', `${JSON.stringify(d.recommended.options)}: ${d.recommended.why}`]);
  return out;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description("report the GPU (or exactly why CUDA/WebGPU can't run here), what auto picks, and a config to start from")
    .option('--json', 'print one JSON object instead of a table')
    .action(async (flags: { json?: boolean }) => {
      const d = await diagnoseEngines();
      if (flags.json) {
        console.log(JSON.stringify(d, null, 2));
        return;
      }
      const table = new Table({ wordWrap: true, colWidths: [14, 90] });
      table.push(...rows(d));
      console.log(table.toString());
    });
}
