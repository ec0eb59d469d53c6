/**
 * The `lifeline` command. Argument parsing and output only: every command calls the library.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage (unknown command or flag), as in most
 * Unix tools.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './command.js';
import type { CliIo, Command } from './command.js';
import { commands } from './commands/index.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

function help(list: readonly Command[]): string {
  const width = Math.max(8, ...list.map((c) => c.name.length));
  const lines = list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `lifeline: keep connections and other resources alive, correctly and cheaply

Usage:
  lifeline <command> [options]      run a command ('lifeline <command> --help' for its flags)
  lifeline --help | -h              show this help
  lifeline --version | -V           print the version

Commands:
${lines.length > 0 ? lines.join('\n') : '  (none in this build)'}
`;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo, list: readonly Command[] = commands): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(help(list));
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.out(`${version()}\n`);
    return 0;
  }
  const command = list.find((c) => c.name === first);
  if (command === undefined) {
    io.err(`lifeline: unknown ${first.startsWith('-') ? 'option' : 'command'} '${first}'\nRun 'lifeline --help' for usage.\n`);
    return 2;
  }
  // Only flags before `--` are lifeline's: `lifeline awake -- grep --help` runs grep's help.
  const separator = rest.indexOf('--');
  const own = separator === -1 ? rest : rest.slice(0, separator);
  if (own.includes('--help') || own.includes('-h')) {
    const text = command.helpFor?.(own) ?? command.help;
    io.out(text.endsWith('\n') ? text : `${text}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      const name = error.command ?? command.name;
      io.err(`lifeline ${name}: ${error.message}\nRun 'lifeline ${name} --help' for usage.\n`);
      return 2;
    }
    const code = (error as { code?: unknown }).code;
    io.err(`lifeline ${command.name}: ${error instanceof Error ? error.message : String(error)}${typeof code === 'string' ? ` (${code})` : ''}\n`);
    return 1;
  }
}
