// For test files that start servers, child processes and reconnecting clients: once every test of the
// file has run, exit even if a failed test left a handle open, so one broken teardown can never hang the
// whole `npm test` (node --test waits for each file's process to end).
import { after } from 'node:test';

export function exitWhenDone(graceMs = 3000): void {
  after(() => {
    setTimeout(() => process.exit(process.exitCode ?? 0), graceMs).unref();
  });
}
