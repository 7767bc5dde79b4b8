// What every Redis consumer child (workers/*-consumer.ts) shares: take the options from the first IPC
// message, start, say so; on 'stop', stop and send back what is worth keeping in the JSON, then exit.
export function runConsumerProcess<O>(start: (options: O) => Promise<() => Promise<Record<string, unknown>>>): void {
  // The case's process died (killed after a timeout): no one will ever say stop.
  process.once('disconnect', () => process.exit(1));
  process.once('message', async (options: O) => {
    const stop = await start(options);
    process.send?.('started');
    process.on('message', async (m) => {
      if (m !== 'stop') return;
      const report = await stop();
      process.send?.(report, () => process.exit(0));
    });
  });
}
