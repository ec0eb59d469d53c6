/**
 * `lifeline awake`: hold a sleep inhibitor while a command runs, while a process lives, for a
 * while, or until interrupted. Parsing and output only; the work is in lifeline/awake.
 */
import { AwakeUnavailableError } from '../../awake/awake-errors.js';
import { holdAwake, runAwake } from '../../awake/run-awake.js';
import type { RunAwakeOptions } from '../../awake/run-awake.js';
import { UsageError, parseDurationMs, parseFlags } from '../command.js';
import type { CliIo, Command } from '../command.js';

const HELP = `lifeline awake: keep the machine from sleeping while something runs

Usage:
  lifeline awake [options] -- CMD [ARGS...]   run CMD held awake; exit with its code
  lifeline awake [options] --for 90m          hold for a while
  lifeline awake [options] --pid N            hold while process N lives
  lifeline awake [options]                    hold until interrupted (Ctrl-C)

Options:
  --display        keep the display on too
  --reason TEXT    why (shown by 'systemd-inhibit --list' and the like)
  --strict         fail (exit 1) if no inhibitor can be taken; without it CMD runs anyway
                   (--for, --pid and the bare form always fail then)
  --for DURATION   1500ms, 30s, 90m, 2h
  --pid N          a process id

Mechanisms: Linux logind (via systemd-inhibit; org.freedesktop.ScreenSaver for --display),
macOS caffeinate -i [-d], Windows SetThreadExecutionState. The inhibitor ends when CMD ends,
however it ends, and when lifeline itself is killed. Signals sent to lifeline are passed to CMD.
Lid close and the power button cannot be blocked. Set LIFELINE_SYSTEM_BUS_ADDRESS to use
another system bus.
`;

export const awakeCommand: Command = {
  name: 'awake',
  summary: 'keep the machine awake while a command runs (logind, caffeinate, SetThreadExecutionState)',
  help: HELP,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const dashes = argv.indexOf('--');
    const flags = dashes === -1 ? argv : argv.slice(0, dashes);
    const command = dashes === -1 ? [] : argv.slice(dashes + 1);
    const { values, positionals } = parseFlags({
      args: [...flags],
      options: {
        display: { type: 'boolean' },
        reason: { type: 'string' },
        strict: { type: 'boolean' },
        for: { type: 'string' },
        pid: { type: 'string' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`put the command after '--': lifeline awake -- ${positionals.join(' ')}`);
    if (dashes !== -1 && command.length === 0) throw new UsageError("no command after '--'");
    const modes = [command.length > 0, values.for !== undefined, values.pid !== undefined].filter(Boolean).length;
    if (modes > 1) throw new UsageError('give one of -- CMD, --for or --pid');
    let pid: number | undefined;
    if (values.pid !== undefined) {
      if (!/^\d+$/.test(values.pid) || Number(values.pid) < 1) throw new UsageError(`--pid must be a process id; got '${values.pid}'`);
      pid = Number(values.pid);
    }
    const forMs = values.for === undefined ? undefined : parseDurationMs('--for', values.for);

    const options: RunAwakeOptions = {
      display: values.display ?? false,
      strict: values.strict ?? false,
      onWarning: (text) => io.err(`lifeline awake: ${text}\n`),
    };
    if (values.reason !== undefined) options.reason = values.reason;
    const [head, ...rest] = command;
    try {
      if (head !== undefined) return await runAwake(head, rest, options);
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        options.onHeld = (handle) => io.err(`lifeline awake: holding ${handle.mechanisms.join(' + ')}${pid !== undefined ? ` while pid ${pid} lives` : forMs !== undefined ? ` for ${values.for}` : ' until interrupted'}\n`);
        // Without a command there is nothing to run anyway: no inhibitor is a failure.
        const hold: Parameters<typeof holdAwake>[0] = { ...options, strict: true, signal: abort.signal };
        if (pid !== undefined) hold.pid = pid;
        if (forMs !== undefined) hold.forMs = forMs;
        const why = await holdAwake(hold);
        io.err(`lifeline awake: released (${why})\n`);
        return 0;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    } catch (error) {
      if (error instanceof AwakeUnavailableError) {
        io.err(`lifeline awake: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
