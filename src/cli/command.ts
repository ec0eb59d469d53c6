/**
 * The shape of one `lifeline` sub-command. Each command lives in src/cli/commands/<name>.ts, parses
 * its own flags with `parseFlags`, and calls the library; main.ts only dispatches.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  name: string;
  /** One line for `lifeline --help`. */
  summary: string;
  /** Full help for `lifeline <name> --help`. */
  help: string;
  /** Help for `lifeline <name> <sub> --help` when the command has sub-commands (`argv` is the command's own). */
  helpFor?(argv: readonly string[]): string | undefined;
  /** Returns the exit code. Long-running commands resolve when they stop (signal, error). */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/**
 * A usage error: main prints it with a pointer to --help and exits 2. `command` names the
 * (sub-)command whose help to point at, e.g. `tunnel client`; default: the command.
 */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  readonly command: string | undefined;
  constructor(message: string, options?: { command?: string }) {
    super(message);
    this.command = options?.command;
  }
}

/**
 * `util.parseArgs` (strict unless the config says otherwise), with its errors turned into
 * UsageError naming the flag.
 * @example const { values } = parseFlags({ args: [...argv], options: { config: { type: 'string' } } });
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>(config);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parse a duration flag such as `90m`, `30s`, `1500ms`, `2h` (bare numbers are ms) into ms. */
export function parseDurationMs(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) throw new UsageError(`${flag} must be a duration such as 1500ms, 30s, 90m or 2h; got '${text}'`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h' | 'd'];
  const ms = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${flag} is too large: '${text}'`);
  return ms;
}
