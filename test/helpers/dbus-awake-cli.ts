/**
 * `lifeline` with the awake and lease commands, for tests that must run the CLI as its own
 * process (signals, being killed) before the commands are registered in the shared index.
 */
import { main } from '../../src/cli/main.js';
import { awakeCommand } from '../../src/cli/commands/awake.js';
import { leaseCommand } from '../../src/cli/commands/lease.js';

process.exitCode = await main(
  process.argv.slice(2),
  { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) },
  [awakeCommand, leaseCommand],
);
