#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
