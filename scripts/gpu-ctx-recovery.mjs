#!/usr/bin/env node
// After a kernel traps (a sticky fault), which driver calls give this process a working context again?
// Traps the lab kernel (src/engines/cuda/lab/pcie_lab.cu, test 100), then tries one recovery sequence and
// checks it with a kernel that must run: node scripts/gpu-ctx-recovery.mjs <variant> (run each variant in
// a fresh process). Variants: reset, unset-reset, unset-release-reset, release-all, own-context.
import { readFileSync } from 'node:fs';
import { CudaDriver, cudaErrorName } from '../dist/src/engines/cuda/driver/driver.js';
import { loadCudaLibrary } from '../dist/src/engines/cuda/driver/library.js';

const variant = process.argv[2] ?? 'reset';
const lib = loadCudaLibrary();
const cu = lib.koffi.load(lib.path);
const fn = (p) => cu.func(p);
const cuCtxSetCurrent = fn('int cuCtxSetCurrent(void *ctx)');
const cuCtxCreate = fn('int cuCtxCreate_v2(_Out_ void **ctx, unsigned int flags, int dev)');
const cuCtxDestroy = fn('int cuCtxDestroy_v2(void *ctx)');
const cuRelease = fn('int cuDevicePrimaryCtxRelease_v2(int dev)');
const cuReset = fn('int cuDevicePrimaryCtxReset_v2(int dev)');
const cuState = fn('int cuDevicePrimaryCtxGetState(int dev, _Out_ unsigned int *flags, _Out_ int *active)');
const name = (r) => (r === 0 ? 'OK' : cudaErrorName(lib.fn, r));
const log = [];
const step = (what, r) => {
  log.push(`${what}: ${name(r)}`);
  return r;
};
const state = (dev) => {
  const f = [0];
  const a = [0];
  const r = cuState(dev, f, a);
  log.push(`  primary state: ${name(r)} active=${a[0]}`);
};

const driver = new CudaDriver(lib);
driver.init();
const dev = driver.device(0);
const ptx = readFileSync(new URL('../dist/kernels-lab/pcie_lab.ptx', import.meta.url), 'latin1');
const sab = new SharedArrayBuffer(64 * 1024);

function runLab(test) {
  const module = driver.loadModule(ptx);
  const kernel = driver.kernel(module, 'pcie_lab');
  const host = driver.registerHost(sab);
  const stream = driver.createStream();
  const stop = driver.allocDevice(256);
  const words = new Uint32Array([test, 1, 0, 0, Number(stop & 0xffffffffn), Number(stop >> 32n), 0]);
  driver.launch(kernel, 1, 32, 0, stream, host, new Uint8Array(words.buffer));
  const deadline = performance.now() + 5000;
  for (;;) {
    try {
      if (driver.streamState(stream) === 'done') break;
    } catch (error) {
      return `fault: ${error.cudaErrorName}`;
    }
    if (performance.now() > deadline) return 'hang';
  }
  driver.destroyStream(stream);
  driver.freeDevice(stop);
  driver.unregisterHost(sab);
  driver.unloadModule(module);
  return 'ran';
}

let own;
if (variant === 'own-context') {
  const c = [null];
  step('cuCtxCreate', cuCtxCreate(c, 0, dev));
  own = c[0];
  step('cuCtxSetCurrent(own)', cuCtxSetCurrent(own));
} else {
  driver.retainPrimaryContext(dev);
}
log.push(`trap kernel: ${runLab(100)}`);
state(dev);
try {
  switch (variant) {
    case 'reset':
      step('reset', cuReset(dev));
      break;
    case 'unset-reset':
      step('setCurrent(null)', cuCtxSetCurrent(null));
      step('reset', cuReset(dev));
      break;
    case 'unset-release-reset':
      step('setCurrent(null)', cuCtxSetCurrent(null));
      step('release', cuRelease(dev));
      step('reset', cuReset(dev));
      break;
    case 'release-all':
      step('setCurrent(null)', cuCtxSetCurrent(null));
      for (let i = 0; i < 4 && step('release', cuRelease(dev)) === 0; i++);
      break;
    case 'own-context': {
      step('setCurrent(null)', cuCtxSetCurrent(null));
      step('cuCtxDestroy(own)', cuCtxDestroy(own));
      const c = [null];
      step('cuCtxCreate (fresh)', cuCtxCreate(c, 0, dev));
      step('cuCtxSetCurrent(fresh)', cuCtxSetCurrent(c[0]));
      break;
    }
  }
  state(dev);
  if (variant !== 'own-context') {
    try {
      driver.retainPrimaryContext(dev);
      log.push('retain + setCurrent: OK');
    } catch (error) {
      log.push(`retain + setCurrent: ${error.cudaErrorName}`);
    }
  }
  log.push(
    `kernel after recovery: ${(() => {
      try {
        return runLab(7);
      } catch (error) {
        return `${error.cudaErrorName ?? error.message}`;
      }
    })()}`,
  );
} catch (error) {
  log.push(`threw: ${error.message}`);
}
console.log(`== ${variant}\n  ${log.join('\n  ')}`);
process.exit(0);
