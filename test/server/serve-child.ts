// `gpuqueue serve` as its own process for the shutdown test: the serve command, parsed from argv as the CLI does.
import { serveCommand } from '../../src/cli/serve.js';

await serveCommand().parseAsync(process.argv.slice(2), { from: 'user' });
