/**
 * The `lifeline` command. Argument parsing and output only: every command calls the library.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage (unknown command or flag), as in most
 * Unix tools.
 */
import { readFileSync } from 'node:fs';

const HELP = `lifeline: keep connections and other resources alive, correctly and cheaply

Usage:
  lifeline <command> [options]
  lifeline --help | -h      show this help
  lifeline --version | -V   print the version

Commands (each issue of the roadmap adds one; see README.md):
  (none yet in this build: the keep-alive core and transport are available as
   the libraries 'lifeline/core' and 'lifeline/transport')
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export function main(argv: readonly string[], out: (text: string) => void, err: (text: string) => void): number {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    out(HELP);
    return 0;
  }
  if (first === '--version' || first === '-V') {
    out(`${version()}\n`);
    return 0;
  }
  err(`lifeline: unknown ${first.startsWith('-') ? 'option' : 'command'} '${first}'\nRun 'lifeline --help' for usage.\n`);
  return 2;
}

process.exitCode = main(
  process.argv.slice(2),
  (t) => process.stdout.write(t),
  (t) => process.stderr.write(t),
);
