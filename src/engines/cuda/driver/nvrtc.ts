// NVRTC (the CUDA runtime compiler) through koffi: CUDA C++ source → PTX in this process, for user
// handlers given as source. Loaded on first use, never at import, like libcuda (library.ts); a machine
// without libnvrtc (CI has nvcc but no libnvrtc) gets an error naming every path tried.
// GPUQUEUE_LIBNVRTC names the library to load instead of the usual names.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CudaError } from '../../../core/errors.js';
import { loadFirst, requireKoffi } from './library.js';

/** The symbols called, in koffi's syntax; each returns an nvrtcResult (0 = NVRTC_SUCCESS). */
const NVRTC_SYMBOLS = {
  nvrtcVersion: ['_Out_ int *major', '_Out_ int *minor'],
  nvrtcCreateProgram: [
    '_Out_ void **program',
    'const char *source',
    'const char *name',
    'int headerCount',
    'const char **headers',
    'const char **includeNames',
  ],
  nvrtcCompileProgram: ['void *program', 'int optionCount', 'const char **options'],
  nvrtcGetProgramLogSize: ['void *program', '_Out_ size_t *bytes'],
  nvrtcGetProgramLog: ['void *program', 'void *log'],
  nvrtcGetPTXSize: ['void *program', '_Out_ size_t *bytes'],
  nvrtcGetPTX: ['void *program', 'void *ptx'],
  nvrtcDestroyProgram: ['_Inout_ void **program'],
} as const;
type NvrtcSymbol = keyof typeof NVRTC_SYMBOLS;
type NvrtcFunctions = Record<NvrtcSymbol, (...args: unknown[]) => number>;

const NVRTC_SUCCESS = 0;
const NVRTC_ERROR_COMPILATION = 6;

/** Library names NVRTC ships under (CUDA 13, then 12), bare (the loader's path) and in the toolkit's usual places. */
function candidatePaths(): string[] {
  const override = process.env.GPUQUEUE_LIBNVRTC;
  if (override) return [override];
  if (process.platform !== 'linux') return [];
  const names = ['libnvrtc.so.13', 'libnvrtc.so.12', 'libnvrtc.so'];
  const dirs = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']
    .filter((d): d is string => typeof d === 'string' && d.length > 0)
    .flatMap((d) => [join(d, 'lib64'), join(d, 'targets', 'x86_64-linux', 'lib')]);
  return [...names, ...dirs.flatMap((d) => names.map((n) => join(d, n))).filter((p) => existsSync(p))];
}

/** Why NVRTC cannot be used here (missing koffi or library), as one message. */
export class NvrtcLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NvrtcLoadError';
  }
}

/** A compile that failed: `log` is NVRTC's own output (file:line: error …). */
export class NvrtcCompileError extends Error {
  readonly log: string;
  constructor(log: string) {
    super(`NVRTC could not compile the source:\n${log}`);
    this.name = 'NvrtcCompileError';
    this.log = log;
  }
}

export interface Nvrtc {
  path: string;
  /** e.g. `13.0`. */
  version: string;
  /** Compiles one translation unit to PTX; throws NvrtcCompileError with the log when it does not compile. */
  compile(source: string, name: string, options: readonly string[]): { ptx: string; log: string };
}

let cached: Nvrtc | NvrtcLoadError | undefined;

/** NVRTC, loaded once; throws NvrtcLoadError (the same one every time) when it can't be. */
export function loadNvrtc(): Nvrtc {
  cached ??= tryLoad();
  if (cached instanceof NvrtcLoadError) throw cached;
  return cached;
}

/** NVRTC's version, or why it cannot be loaded (for `gpuqueue doctor`). */
export function nvrtcStatus(): { usable: true; version: string; path: string } | { usable: false; reason: string } {
  try {
    const n = loadNvrtc();
    return { usable: true, version: n.version, path: n.path };
  } catch (error) {
    return { usable: false, reason: (error as Error).message };
  }
}

function tryLoad(): Nvrtc | NvrtcLoadError {
  const required = requireKoffi();
  if ('missing' in required) return new NvrtcLoadError(required.missing, { cause: required.cause });
  const paths = candidatePaths();
  const loaded = loadFirst(required.koffi, paths);
  if ('failures' in loaded) {
    const how = process.env.GPUQUEUE_LIBNVRTC
      ? ' (from GPUQUEUE_LIBNVRTC)'
      : '; install the CUDA toolkit or set GPUQUEUE_LIBNVRTC to its path';
    const tried = paths.length > 0 ? ` Tried:\n  ${loaded.failures.join('\n  ')}` : '';
    return new NvrtcLoadError(`the CUDA runtime compiler libnvrtc was not found${how}.${tried}`);
  }
  const { lib, path } = loaded;
  try {
    const fn = Object.fromEntries(
      (Object.keys(NVRTC_SYMBOLS) as NvrtcSymbol[]).map((name) => [name, lib.func(`int ${name}(${NVRTC_SYMBOLS[name].join(', ')})`)]),
    ) as NvrtcFunctions;
    const errorString = lib.func('const char *nvrtcGetErrorString(int result)') as (result: number) => string;
    return bind(path, fn, errorString);
  } catch (error) {
    return new NvrtcLoadError(`${path} lacks an NVRTC symbol: ${(error as Error).message}`, { cause: error });
  }
}

function bind(path: string, fn: NvrtcFunctions, errorString: (result: number) => string): Nvrtc {
  const check = (what: string, result: number): void => {
    if (result !== NVRTC_SUCCESS) throw new CudaError(`${what} failed: ${errorString(result)}`, errorString(result));
  };
  const major = [0];
  const minor = [0];
  check('nvrtcVersion', fn.nvrtcVersion(major, minor));
  const readText = (program: unknown, size: NvrtcSymbol, read: NvrtcSymbol): string => {
    const bytes = [0];
    check(size, fn[size](program, bytes));
    const buffer = Buffer.alloc(Number(bytes[0]));
    check(read, fn[read](program, buffer));
    // Both texts end in a NUL.
    return buffer.toString('latin1', 0, Math.max(0, buffer.length - 1));
  };
  return {
    path,
    version: `${major[0]}.${minor[0]}`,
    compile(source, name, options) {
      const handle: unknown[] = [null];
      check('nvrtcCreateProgram', fn.nvrtcCreateProgram(handle, source, name, 0, null, null));
      const program = handle[0];
      try {
        const result = fn.nvrtcCompileProgram(program, options.length, [...options]);
        const log = readText(program, 'nvrtcGetProgramLogSize', 'nvrtcGetProgramLog');
        if (result === NVRTC_ERROR_COMPILATION) throw new NvrtcCompileError(log.trim());
        check('nvrtcCompileProgram', result);
        return { ptx: readText(program, 'nvrtcGetPTXSize', 'nvrtcGetPTX'), log };
      } finally {
        fn.nvrtcDestroyProgram([program]);
      }
    },
  };
}
