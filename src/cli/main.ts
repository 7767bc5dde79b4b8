#!/usr/bin/env node
// The `gpuqueue` command line. Each command lives in its own file beside this one and is registered here.
import { Command } from 'commander';
import { GpuQueueError } from '../index.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { packageVersion } from './package-root.js';
import { serveCommand } from './serve.js';
import { workerCommand } from './worker.js';

const program = new Command('gpuqueue')
  .description('gpuqueue: a GPU-resident message queue for Node.js')
  .version(packageVersion())
  .addCommand(demoCommand())
  .addCommand(benchCommand())
  .addCommand(doctorCommand())
  .addCommand(workerCommand())
  .addCommand(serveCommand());

try {
  await program.parseAsync();
} catch (error) {
  // The queue's own errors say what is wrong and carry a stable code; anything else gets its stack.
  if (error instanceof GpuQueueError) console.error(`gpuqueue: ${error.message} (${error.code})`);
  else console.error('gpuqueue:', error);
  process.exitCode = 1;
}
