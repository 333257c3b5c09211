#!/usr/bin/env node
import { main } from '../dist/main.js';

// Output piped into a reader that stopped early (`| head`): stop quietly, as Unix tools do.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
