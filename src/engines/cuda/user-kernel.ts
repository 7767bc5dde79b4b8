// A user handler given as CUDA source (handler `cuda`) becomes a persistent kernel here: the same kernel
// template the build compiles with each built-in (kernels/persistent_consumer.cu, the wrapper handlers
// fault/slow/crash, handler_abi.cuh, slot_layout.cuh), with the user's `gq::process_message` in the
// place of a built-in leaf, compiled to PTX with NVRTC at run time. The PTX is cached on disk by a hash
// of everything that went into it (sources, options, NVRTC and package versions), so a queue that opens
// again starts without compiling. Compile errors name the line in the user's source (`handler.cu(LINE)`).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineUnavailableError, InvalidArgumentError } from '../../core/errors.js';
import { loadNvrtc, NvrtcCompileError } from './driver/nvrtc.js';

/** The package root from dist/src/engines/cuda/ (the .cu sources ship with the package: package.json "files"). */
const PACKAGE_ROOT = new URL('../../../../', import.meta.url);
const KERNELS_DIR = fileURLToPath(new URL('src/engines/cuda/kernels/', PACKAGE_ROOT));
const HANDLERS_DIR = fileURLToPath(new URL('src/handlers/', PACKAGE_ROOT));
/** The name NVRTC gives the user's source in its messages. */
export const USER_SOURCE_NAME = 'handler.cu';

/**
 * NVRTC has no C library headers; the kernel headers need only these. (nvcc, which compiles the same
 * assembled source in the CI test, has the real <stdint.h>.)
 */
const STDINT = `#ifdef __CUDACC_RTC__
typedef signed char int8_t; typedef unsigned char uint8_t; typedef short int16_t; typedef unsigned short uint16_t;
typedef int int32_t; typedef unsigned int uint32_t; typedef long int64_t; typedef unsigned long uint64_t;
#else
#include <stdint.h>
#endif
`;
/** A wrapper's include of the ABI by its repository path; in the assembled source the ABI is included once, by name. */
const ABI_INCLUDE = /^#include\s+"(?:\.\.\/)+engines\/cuda\/kernels\/handler_abi\.cuh"\s*$/m;

export interface UserKernel {
  ptx: string;
  /** Whether the PTX came from the disk cache (no compile). */
  cached: boolean;
  nvrtcVersion: string;
  /** Compile time, ms (0 when cached). */
  compileMs: number;
}

/** The one translation unit: headers inlined (NVRTC sees no files), then wrappers, the user's source, the kernel. */
export function assembleUserKernelSource(userSource: string): string {
  const read = (path: string) => readFileSync(path, 'utf8');
  // `#pragma once` only means something in a header file; here each header is inlined once.
  const header = (name: string) =>
    `#line 1 "${name}"\n${read(join(KERNELS_DIR, name)).replace('#include <stdint.h>', '').replace('#pragma once', '')}\n`;
  const wrappers = readdirSync(HANDLERS_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => ({ name, text: readCu(join(HANDLERS_DIR, name, `${name}.cu`)) }))
    .filter((h): h is { name: string; text: string } => h.text !== undefined && !/__device__\s+int\s+process_message\s*\(/.test(h.text));
  return [
    `#line 1 "stdint.h"\n${STDINT}`,
    header('handler_abi.cuh'),
    header('slot_layout.cuh'),
    ...wrappers.map((w) => `#line 1 "${w.name}.cu"\n${w.text.replace(ABI_INCLUDE, '')}\n`),
    `#line 1 "${USER_SOURCE_NAME}"\n${userSource}\n`,
    `#line 1 "persistent_consumer.cu"\n${read(join(KERNELS_DIR, 'persistent_consumer.cu')).replace(/^#include\s+"[^"]+"\s*$/gm, '')}\n`,
  ].join('');
}

const readCu = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The same flags as scripts/build-kernels.mjs, for the device's own architecture. */
export const nvrtcOptions = (computeCapability: string): string[] => [
  `--gpu-architecture=compute_${computeCapability.replace('.', '')}`,
  '-std=c++17',
  '-fmad=false',
  '-lineinfo',
];

/** Where compiled user kernels are kept: GPUQUEUE_CACHE_DIR, else $XDG_CACHE_HOME/gpuqueue/kernels, else ~/.cache/gpuqueue/kernels. */
export const kernelCacheDir = (): string =>
  process.env.GPUQUEUE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gpuqueue', 'kernels');

const packageVersion = (): string =>
  (JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string }).version;

/**
 * PTX of the persistent kernel with the user's handler, from the cache or compiled now. Throws
 * InvalidArgumentError with NVRTC's log when the source does not compile, EngineUnavailableError when
 * NVRTC is not there.
 */
export function buildUserKernel(userSource: string, computeCapability: string): UserKernel {
  let nvrtc: ReturnType<typeof loadNvrtc>;
  try {
    nvrtc = loadNvrtc();
  } catch (error) {
    throw new EngineUnavailableError(`handler cuda (CUDA source) is compiled with NVRTC, which cannot load: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const source = assembleUserKernelSource(userSource);
  const options = nvrtcOptions(computeCapability);
  const key = createHash('sha256')
    .update(JSON.stringify({ package: packageVersion(), nvrtc: nvrtc.version, options, source }))
    .digest('hex')
    .slice(0, 32);
  const dir = kernelCacheDir();
  const file = join(dir, `${key}.ptx`);
  const hit = readCu(file);
  if (hit !== undefined && hit.length > 0) return { ptx: hit, cached: true, nvrtcVersion: nvrtc.version, compileMs: 0 };
  const started = performance.now();
  let ptx: string;
  try {
    ptx = nvrtc.compile(source, 'gpuqueue_user_kernel.cu', options).ptx;
  } catch (error) {
    if (error instanceof NvrtcCompileError) {
      throw new InvalidArgumentError(`handler cuda: the source does not compile (NVRTC ${nvrtc.version}):\n${error.log}`);
    }
    throw error;
  }
  const compileMs = performance.now() - started;
  try {
    // Written under a temporary name, then renamed: a reader never sees half a file.
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, ptx);
    renameSync(tmp, file);
  } catch {
    // A read-only home only costs the next open a compile.
  }
  return { ptx, cached: false, nvrtcVersion: nvrtc.version, compileMs };
}
