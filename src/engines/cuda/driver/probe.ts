// "Can the cuda engine run here?", asked once per process and cached: the answer is the device's
// description, or the one reason it can't, naming what is missing (koffi, libcuda, a device, a capable
// one). Never a warning: `auto` reads the reason and moves on, an explicit `cuda` throws it.
import { existsSync, readFileSync } from 'node:fs';
import { CudaError } from '../../../core/errors.js';
import { CudaDriver } from './driver.js';
import { CudaLoadError, loadCudaLibrary } from './library.js';
import { DeviceAttribute } from './symbols.js';

/** The shipped PTX targets compute_90 (scripts/build-kernels.mjs). */
export const MIN_COMPUTE_CAPABILITY = 9.0;

export interface PcieLink {
  /** PCIe generation now (links slow down when idle) and at most. */
  gen: number;
  width: number;
  maxGen: number;
  maxWidth: number;
}

export interface CudaDeviceInfo {
  ordinal: number;
  name: string;
  computeCapability: string;
  smCount: number;
  memoryBytes: number;
  /** `dddd:bb:dd.0`, as in /sys/bus/pci/devices and nvidia-smi. */
  pciBusId: string;
  /** Read from sysfs when the system exposes it. */
  pcie?: PcieLink;
  /** Whether the link supports device atomics on host memory (PCIe hosts usually don't: the ring never needs them). */
  hostNativeAtomics: boolean;
  /** CUDA version the driver supports, e.g. `13.0`. */
  driverCudaVersion: string;
  /** The kernel module's version, e.g. `580.159.04`, when /proc tells it. */
  driverVersion?: string;
  /** The libcuda path that loaded. */
  library: string;
}

export type CudaProbe = { usable: true; device: CudaDeviceInfo } | { usable: false; reason: string };

const cache = new Map<number, CudaProbe>();
let poisoned: string | undefined;

/**
 * Marks CUDA unusable for the rest of this process: after a kernel fault the driver refuses every new
 * context (measured on the H100 test machine, driver 580: a reset of the primary context, releasing it,
 * or a context of one's own all end in CUDA_ERROR_LAUNCH_FAILED). From then on the probe says so, so
 * `auto` moves on and an explicit `cuda` fails with this reason at once.
 */
export function markCudaPoisoned(reason: string): void {
  poisoned ??= reason;
}

export function probeCuda(ordinal = 0): CudaProbe {
  if (poisoned) return { usable: false, reason: poisoned };
  let probe = cache.get(ordinal);
  if (!probe) {
    probe = runProbe(ordinal);
    cache.set(ordinal, probe);
  }
  return probe;
}

function runProbe(ordinal: number): CudaProbe {
  try {
    const driver = new CudaDriver(loadCudaLibrary());
    driver.init();
    const count = driver.deviceCount();
    if (count === 0) return { usable: false, reason: 'no CUDA device: the driver loaded but sees no GPU' };
    if (ordinal >= count) return { usable: false, reason: `no CUDA device ${ordinal}: the driver sees ${count}` };
    const device = describeDevice(driver, ordinal);
    const [major = 0, minor = 0] = device.computeCapability.split('.').map(Number);
    if (major + minor / 10 < MIN_COMPUTE_CAPABILITY) {
      return {
        usable: false,
        reason: `${device.name} has compute capability ${device.computeCapability}; the shipped kernels need ${MIN_COMPUTE_CAPABILITY.toFixed(1)} or later`,
      };
    }
    if (driver.attribute(driver.device(ordinal), DeviceAttribute.CAN_MAP_HOST_MEMORY) !== 1) {
      return { usable: false, reason: `${device.name} cannot map host memory, which the ring lives in` };
    }
    return { usable: true, device };
  } catch (error) {
    if (error instanceof CudaLoadError) return { usable: false, reason: error.message };
    if (error instanceof CudaError && error.cudaErrorName === 'CUDA_ERROR_NO_DEVICE')
      return { usable: false, reason: 'no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)' };
    return { usable: false, reason: `the CUDA driver failed: ${(error as Error).message}` };
  }
}

function describeDevice(driver: CudaDriver, ordinal: number): CudaDeviceInfo {
  const dev = driver.device(ordinal);
  const attr = (a: (typeof DeviceAttribute)[keyof typeof DeviceAttribute]) => driver.attribute(dev, a);
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const pciBusId = `${hex(attr(DeviceAttribute.PCI_DOMAIN_ID), 4)}:${hex(attr(DeviceAttribute.PCI_BUS_ID), 2)}:${hex(attr(DeviceAttribute.PCI_DEVICE_ID), 2)}.0`;
  const cuda = driver.driverVersion();
  const pcie = readPcieLink(pciBusId);
  const driverVersion = readKernelDriverVersion();
  return {
    ordinal,
    name: driver.deviceName(dev),
    computeCapability: `${attr(DeviceAttribute.COMPUTE_CAPABILITY_MAJOR)}.${attr(DeviceAttribute.COMPUTE_CAPABILITY_MINOR)}`,
    smCount: attr(DeviceAttribute.MULTIPROCESSOR_COUNT),
    memoryBytes: driver.totalMemoryBytes(dev),
    pciBusId,
    ...(pcie ? { pcie } : {}),
    hostNativeAtomics: attr(DeviceAttribute.HOST_NATIVE_ATOMIC_SUPPORTED) === 1,
    driverCudaVersion: `${Math.floor(cuda / 1000)}.${(cuda % 1000) / 10}`,
    ...(driverVersion ? { driverVersion } : {}),
    library: driver.lib.path,
  };
}

/** "32.0 GT/s PCIe" → 5: the transfer rate of each generation. */
const GEN_BY_GTS: Record<string, number> = { '2.5': 1, '5.0': 2, '8.0': 3, '16.0': 4, '32.0': 5, '64.0': 6 };

function readPcieLink(busId: string): PcieLink | undefined {
  const dir = `/sys/bus/pci/devices/${busId}`;
  if (!existsSync(dir)) return undefined;
  try {
    const read = (name: string) => readFileSync(`${dir}/${name}`, 'utf8').trim();
    const gen = (name: string) => GEN_BY_GTS[read(name).split(' ')[0] ?? ''] ?? 0;
    return {
      gen: gen('current_link_speed'),
      width: Number(read('current_link_width')),
      maxGen: gen('max_link_speed'),
      maxWidth: Number(read('max_link_width')),
    };
  } catch {
    return undefined;
  }
}

function readKernelDriverVersion(): string | undefined {
  try {
    return /Kernel Module\s+(?:for\s+\S+\s+)?([\d.]+)/.exec(readFileSync('/proc/driver/nvidia/version', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
