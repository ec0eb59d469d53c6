// Runs `lifeline tunnel ...` in a child process without going through src/cli/main.ts, so the
// tunnel tests exercise the real command (flags, logging, signals) even before it is registered.
// Usage: node dist/test/helpers/tunnel-cli.js server --listen ... ; exit code as the CLI's
// (2 for usage errors, printed the way main.ts prints them).
import { UsageError } from '../../src/cli/command.js';
import { tunnelCommand } from '../../src/cli/commands/tunnel/index.js';

const io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };
try {
  process.exitCode = await tunnelCommand.run(process.argv.slice(2), io);
} catch (error) {
  if (error instanceof UsageError) {
    io.err(`lifeline tunnel: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    io.err(`lifeline tunnel: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
