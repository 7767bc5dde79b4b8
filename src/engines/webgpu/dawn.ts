// Dawn (the `webgpu` package, an optional dependency) loaded lazily on first use, one instance per
// process, and the cached answer to "can the webgpu engine run here?": the adapter's description, or the
// one reason it can't, naming what is missing (the package, or an adapter, with what Dawn saw). Importing
// gpuqueue never loads Dawn; `auto` reads the reason and moves on, an explicit `webgpu` throws it.
import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EngineUnavailableError } from '../../core/errors.js';
import type { DawnModule, Gpu, GpuAdapter } from './gpu-api.js';

/** The package, or a path to its index.js given in this environment variable (tried first). */
const PACKAGE = 'webgpu';
export const DAWN_MODULE_ENV = 'GPUQUEUE_WEBGPU_MODULE';
const UNAVAILABLE = 'the webgpu engine cannot run here: ';
/** Where Vulkan loaders look for drivers (ICD manifests): named in the reason when Dawn finds no adapter. */
const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

export interface WebGpuAdapterDescription {
  /** The device and the driver's description, e.g. `llvmpipe-… (llvmpipe: Mesa 25.0.7 …)`. */
  name: string;
  vendor: string;
  architecture: string;
  /** A software rasterizer (lavapipe, SwiftShader) rather than a GPU. */
  software: boolean;
  /** Largest storage buffer a batch may bind, bytes. */
  maxStorageBufferBindingSize: number;
}

export type WebGpuProbe = { usable: true; adapter: WebGpuAdapterDescription } | { usable: false; reason: string };

let dawn: Promise<DawnModule> | undefined;
let gpu: Gpu | undefined;
let probe: Promise<WebGpuProbe> | undefined;

/** Imports Dawn once; rejects with EngineUnavailableError naming the package and every place tried. */
export function loadDawn(): Promise<DawnModule> {
  const override = process.env[DAWN_MODULE_ENV];
  dawn ??= loadDawnFrom(override ? [override, PACKAGE] : [PACKAGE]);
  return dawn;
}

/** Imports the first of `specifiers` (package names or paths to index.js) that loads and looks like Dawn. */
export async function loadDawnFrom(specifiers: string[]): Promise<DawnModule> {
  const tried: string[] = [];
  for (const specifier of specifiers) {
    try {
      const module = (await import(isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier)) as Partial<DawnModule>;
      if (typeof module.create !== 'function') throw new Error('it exports no create()');
      return module as DawnModule;
    } catch (error) {
      tried.push(`${specifier}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new EngineUnavailableError(
    `${UNAVAILABLE}the optional package \`webgpu\` (Dawn's Node.js bindings, 0.6.x) did not load: ` +
      `install it with \`npm install webgpu\` (or set ${DAWN_MODULE_ENV} to its index.js). Tried: ${tried.join('; ')}`,
  );
}

/**
 * The process's Dawn instance (created on first use; Dawn keeps one per process). Held here for the life of
 * the process on purpose: dawn.node frees an instance that is garbage-collected even while its devices are
 * in use, and the process then dies in a futex or mutex assertion (bench/webgpu-floor.mjs says more).
 */
export async function dawnGpu(): Promise<Gpu> {
  if (!gpu) gpu = (await loadDawn()).create([]);
  return gpu;
}

/** Whether the webgpu engine can run here, asked once per process. */
export function probeWebGpu(): Promise<WebGpuProbe> {
  probe ??= runProbe();
  return probe;
}

/** The adapter, or EngineUnavailableError with the probe's reason. */
export async function requestAdapter(): Promise<{ adapter: GpuAdapter; description: WebGpuAdapterDescription }> {
  const answer = await probeWebGpu();
  if (!answer.usable) throw new EngineUnavailableError(`${UNAVAILABLE}${answer.reason}`);
  const adapter = await (await dawnGpu()).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new EngineUnavailableError(`${UNAVAILABLE}the adapter Dawn found at first is gone`);
  return { adapter, description: answer.adapter };
}

/** An adapter and the limits that bound the webgpu engine's batches, for `gpuqueue doctor`. */
export interface WebGpuAdapterListing extends WebGpuAdapterDescription {
  /** Which request found it: the high-performance one is what the engine uses. */
  foundBy: string[];
  limits: Record<string, number>;
}

const LISTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
] as const;

/**
 * Every adapter Dawn hands out here: WebGPU has no enumeration, so ask the three ways an adapter can be
 * requested (high performance, low power, the fallback adapter) and keep each distinct one. Empty when
 * Dawn is missing (probeWebGpu says why).
 */
export async function listWebGpuAdapters(): Promise<WebGpuAdapterListing[]> {
  if (!(await probeWebGpu()).usable) return [];
  const gpu = await dawnGpu();
  const found = new Map<string, WebGpuAdapterListing>();
  const requests = [
    ['high-performance', { powerPreference: 'high-performance' }],
    ['low-power', { powerPreference: 'low-power' }],
    ['fallback', { forceFallbackAdapter: true }],
  ] as const;
  for (const [how, options] of requests) {
    const adapter = await gpu.requestAdapter(options).catch(() => null);
    if (!adapter) continue;
    const description = describeAdapter(adapter);
    const seen = found.get(description.name);
    if (seen) {
      seen.foundBy.push(how);
      continue;
    }
    const limits = Object.fromEntries(LISTED_LIMITS.map((name) => [name, adapter.limits[name]]));
    found.set(description.name, { ...description, foundBy: [how], limits });
  }
  return [...found.values()];
}

function describeAdapter(adapter: GpuAdapter): WebGpuAdapterDescription {
  const info = adapter.info;
  return {
    // Drivers fill these differently: NVIDIA puts the driver version in `description`, Mesa the renderer.
    name: [info.device || info.vendor, info.description && `(${info.description})`].filter(Boolean).join(' ') || 'unnamed adapter',
    vendor: info.vendor,
    architecture: info.architecture,
    software: info.isFallbackAdapter === true || info.architecture === 'software',
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

async function runProbe(): Promise<WebGpuProbe> {
  let module: DawnModule;
  try {
    module = await loadDawn();
  } catch (error) {
    return { usable: false, reason: (error as Error).message.replace(UNAVAILABLE, '') };
  }
  try {
    const adapter = await (await dawnGpu()).requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { usable: false, reason: await noAdapterReason(module) };
    return { usable: true, adapter: describeAdapter(adapter) };
  } catch (error) {
    return { usable: false, reason: `Dawn failed while looking for an adapter: ${(error as Error).message}` };
  }
}

/** What Dawn saw: the adapters it lists (asking for one that cannot exist makes it list them) and the Vulkan drivers installed. */
async function noAdapterReason(module: DawnModule): Promise<string> {
  let listed = 'none';
  try {
    const none = await module.create(['adapter=gpuqueue-lists-adapters']).requestAdapter();
    if (none) listed = 'an adapter only when asked by name';
  } catch (error) {
    const lines = (error as Error).message.split('\n').filter((l) => l.trim().startsWith('*'));
    if (lines.length > 0) listed = lines.map((l) => l.trim().slice(2)).join(', ');
  }
  const icds = VULKAN_ICD_DIRS.filter(existsSync).flatMap((dir) => readdirSync(dir).map((f) => `${dir}/${f}`));
  return (
    `Dawn found no WebGPU adapter (adapters Dawn lists: ${listed}; Vulkan drivers installed: ${icds.length > 0 ? icds.join(', ') : 'none'}). ` +
    'Install a GPU driver with Vulkan, Metal or Direct3D 12; on a machine without a GPU, Mesa 25 or later gives a software one ' +
    '(lavapipe: ci/install-lavapipe.sh); Dawn rejects older Mesa. Dawn prints its own reasons on stderr.'
  );
}
