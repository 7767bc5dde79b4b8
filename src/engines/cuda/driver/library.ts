// Loads koffi and libcuda on first use, never at import: `import 'gpuqueue'` must work on a machine with
// neither. GPUQUEUE_LIBCUDA names the library to load instead of the usual names; a failure lists every
// path tried and why each failed.
import { createRequire } from 'node:module';
import { CUDA_SYMBOLS, type CudaFunctions, type CudaSymbol, prototypeOf } from './symbols.js';

/** The part of koffi gpuqueue uses (typed here so the optional dependency is not needed to compile). */
export interface Koffi {
  load(path: string): { func(prototype: string): (...args: unknown[]) => unknown };
  alloc(type: string, length: number): unknown;
  free(pointer: unknown): void;
  view(pointer: unknown, bytes: number): ArrayBuffer;
  address(pointer: unknown): bigint;
}

export interface CudaLibrary {
  koffi: Koffi;
  /** The path that loaded. */
  path: string;
  fn: CudaFunctions;
}

/** Why the library could not be loaded; `missing` says which part. */
export class CudaLoadError extends Error {
  readonly missing: 'koffi' | 'libcuda' | 'symbol';
  constructor(missing: CudaLoadError['missing'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CudaLoadError';
    this.missing = missing;
  }
}

const DEFAULT_PATHS: Record<string, string[]> = {
  linux: ['libcuda.so.1', 'libcuda.so', '/usr/lib/x86_64-linux-gnu/libcuda.so.1', '/usr/local/nvidia/lib64/libcuda.so.1'],
  win32: ['nvcuda.dll'],
};

let cached: CudaLibrary | CudaLoadError | undefined;

/** The CUDA driver library, loaded once; throws CudaLoadError (the same one every time) when it can't be. */
export function loadCudaLibrary(): CudaLibrary {
  cached ??= tryLoad();
  if (cached instanceof CudaLoadError) throw cached;
  return cached;
}

/** koffi (an optional dependency, required on first use), or why it is not there. */
export function requireKoffi(): { koffi: Koffi } | { missing: string; cause: unknown } {
  try {
    return { koffi: createRequire(import.meta.url)('koffi') as Koffi };
  } catch (error) {
    return { missing: `the optional dependency koffi is not installed (npm install koffi): ${(error as Error).message}`, cause: error };
  }
}

/** The first of `paths` that koffi loads, with its path; else, for each path, why it did not load. */
export function loadFirst(
  koffi: Koffi,
  paths: readonly string[],
): { lib: ReturnType<Koffi['load']>; path: string } | { failures: string[] } {
  const failures: string[] = [];
  for (const path of paths) {
    try {
      return { lib: koffi.load(path), path };
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message}`);
    }
  }
  return { failures };
}

function tryLoad(): CudaLibrary | CudaLoadError {
  const required = requireKoffi();
  if ('missing' in required) return new CudaLoadError('koffi', required.missing, { cause: required.cause });
  const { koffi } = required;
  const override = process.env.GPUQUEUE_LIBCUDA;
  const paths = override ? [override] : (DEFAULT_PATHS[process.platform] ?? []);
  if (paths.length === 0)
    return new CudaLoadError('libcuda', `no CUDA driver library is known on ${process.platform}; set GPUQUEUE_LIBCUDA to its path`);
  const loaded = loadFirst(koffi, paths);
  if ('failures' in loaded) {
    const how = override ? ' (from GPUQUEUE_LIBCUDA)' : '; set GPUQUEUE_LIBCUDA to load another';
    return new CudaLoadError('libcuda', `the NVIDIA driver library libcuda was not found${how}. Tried:\n  ${loaded.failures.join('\n  ')}`);
  }
  const { lib, path } = loaded;
  const fn: Partial<Record<CudaSymbol, unknown>> = {};
  for (const name of Object.keys(CUDA_SYMBOLS) as CudaSymbol[]) {
    try {
      fn[name] = lib.func(prototypeOf(name));
    } catch (error) {
      return new CudaLoadError('symbol', `${path} has no ${name} (driver too old?): ${(error as Error).message}`, { cause: error });
    }
  }
  return { koffi, path, fn: fn as CudaFunctions };
}
