// The CUDA driver API symbols gpuqueue calls, as data: each entry is the C parameter list in koffi's
// syntax (every function returns a CUresult, an int). The TypeScript types of the bound functions are
// derived from these strings, so the table is the one place a signature is written.
// `_Out_ T *` parameters take a one-element array that koffi fills; a `void *` takes a koffi pointer, a
// TypedArray (its data pointer) or a BigInt address.

export const CUDA_SYMBOLS = {
  cuInit: ['unsigned int flags'],
  cuDriverGetVersion: ['_Out_ int *version'],
  cuGetErrorName: ['int error', '_Out_ const char **name'],
  cuGetErrorString: ['int error', '_Out_ const char **text'],
  cuDeviceGetCount: ['_Out_ int *count'],
  cuDeviceGet: ['_Out_ int *device', 'int ordinal'],
  cuDeviceGetName: ['void *name', 'int length', 'int device'],
  cuDeviceGetAttribute: ['_Out_ int *value', 'int attribute', 'int device'],
  cuDeviceTotalMem_v2: ['_Out_ size_t *bytes', 'int device'],
  cuDevicePrimaryCtxRetain: ['_Out_ void **context', 'int device'],
  cuDevicePrimaryCtxRelease_v2: ['int device'],
  cuDevicePrimaryCtxReset_v2: ['int device'],
  cuCtxSetCurrent: ['void *context'],
  cuModuleLoadData: ['_Out_ void **module', 'const char *image'],
  cuModuleUnload: ['void *module'],
  cuModuleGetFunction: ['_Out_ void **fn', 'void *module', 'const char *name'],
  cuFuncGetAttribute: ['_Out_ int *value', 'int attribute', 'void *fn'],
  cuFuncSetAttribute: ['void *fn', 'int attribute', 'int value'],
  cuOccupancyMaxActiveBlocksPerMultiprocessor: ['_Out_ int *blocks', 'void *fn', 'int blockSize', 'size_t dynamicSharedBytes'],
  cuMemHostRegister_v2: ['void *host', 'size_t bytes', 'unsigned int flags'],
  cuMemHostUnregister: ['void *host'],
  cuMemHostGetDevicePointer_v2: ['_Out_ uint64_t *device', 'void *host', 'unsigned int flags'],
  cuMemAlloc_v2: ['_Out_ uint64_t *device', 'size_t bytes'],
  cuMemFree_v2: ['uint64_t device'],
  cuMemsetD8Async: ['uint64_t device', 'unsigned char value', 'size_t count', 'void *stream'],
  cuMemcpyDtoH_v2: ['void *host', 'uint64_t device', 'size_t bytes'],
  // Pinned host memory and stream-ordered copies: the launch-per-batch baselines of the bench.
  cuMemAllocHost_v2: ['_Out_ void **host', 'size_t bytes'],
  cuMemFreeHost: ['void *host'],
  cuMemcpyHtoDAsync_v2: ['uint64_t device', 'void *host', 'size_t bytes', 'void *stream'],
  cuMemcpyDtoHAsync_v2: ['void *host', 'uint64_t device', 'size_t bytes', 'void *stream'],
  cuStreamCreate: ['_Out_ void **stream', 'unsigned int flags'],
  cuStreamDestroy_v2: ['void *stream'],
  cuStreamQuery: ['void *stream'],
  cuStreamSynchronize: ['void *stream'],
  // CUDA Graphs by stream capture (cuda.h: cuStreamBeginCapture is #defined to the _v2 symbol,
  // cuGraphInstantiate to cuGraphInstantiateWithFlags).
  cuStreamBeginCapture_v2: ['void *stream', 'int mode'],
  cuStreamEndCapture: ['void *stream', '_Out_ void **graph'],
  cuGraphInstantiateWithFlags: ['_Out_ void **exec', 'void *graph', 'uint64_t flags'],
  cuGraphLaunch: ['void *exec', 'void *stream'],
  cuGraphExecDestroy: ['void *exec'],
  cuGraphDestroy: ['void *graph'],
  cuLaunchKernel: [
    'void *fn',
    'unsigned int gridX',
    'unsigned int gridY',
    'unsigned int gridZ',
    'unsigned int blockX',
    'unsigned int blockY',
    'unsigned int blockZ',
    'unsigned int sharedBytes',
    'void *stream',
    'void *params',
    'void *extra',
  ],
} as const;

export type CudaSymbol = keyof typeof CUDA_SYMBOLS;

/** A koffi pointer value (an opaque object), a TypedArray, a BigInt address or null. */
export type NativePointer = unknown;

type ArgType<Decl extends string> = Decl extends `_Out_ ${string}`
  ? unknown[]
  : Decl extends `${'int' | 'unsigned int' | 'unsigned char'} ${string}`
    ? number
    : Decl extends `${'size_t' | 'uint64_t'} ${string}`
      ? number | bigint
      : Decl extends `const char *${string}`
        ? string
        : NativePointer;

type ArgTypes<Decls extends readonly string[]> = { -readonly [I in keyof Decls]: ArgType<Decls[I]> };

/** The bound functions: each returns its CUresult. */
export type CudaFunctions = { [K in CudaSymbol]: (...args: ArgTypes<(typeof CUDA_SYMBOLS)[K]>) => number };

/** The C prototype koffi binds for a symbol. */
export const prototypeOf = (name: CudaSymbol): string => `int ${name}(${CUDA_SYMBOLS[name].join(', ')})`;

/** CUresult values the engine tells apart; anything else is an error named by cuGetErrorName. */
export const CudaResult = { SUCCESS: 0, NOT_READY: 600 } as const;

/** CUdevice_attribute values read by the probe (cuda.h). */
export const DeviceAttribute = {
  MAX_THREADS_PER_BLOCK: 1,
  MULTIPROCESSOR_COUNT: 16,
  CAN_MAP_HOST_MEMORY: 19,
  PCI_BUS_ID: 33,
  PCI_DEVICE_ID: 34,
  UNIFIED_ADDRESSING: 41,
  PCI_DOMAIN_ID: 50,
  COMPUTE_CAPABILITY_MAJOR: 75,
  COMPUTE_CAPABILITY_MINOR: 76,
  HOST_NATIVE_ATOMIC_SUPPORTED: 86,
  MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: 97,
} as const;

/** CUfunction_attribute values the engine reads or sets (cuda.h). */
export const FunctionAttribute = {
  SHARED_SIZE_BYTES: 1,
  MAX_DYNAMIC_SHARED_SIZE_BYTES: 8,
} as const;
