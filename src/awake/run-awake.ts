/**
 * What `lifeline awake` does, as library calls: run a command while the machine is held awake,
 * hold it while another process lives, or for a while.
 *
 * runAwake: the command inherits our stdio; our exit code is its (128 + N when it dies of signal
 * N, as shells report it). SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to us are passed
 * on to it; SIGINT too, except when stdin is a terminal, because then Ctrl-C already reached the
 * whole foreground process group and a second SIGINT would make many programs skip their
 * graceful shutdown. The inhibitor is released when the command ends however it ends; if this
 * process is killed outright the inhibitor's helper sees EOF and ends too.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwakeUnavailableError } from './awake-errors.js';
import { keepAwake } from './keep-awake.js';
import type { AwakeHandle, KeepAwakeOptions } from './keep-awake.js';

export interface RunAwakeOptions extends KeepAwakeOptions {
  /** Fail (do not run the command) when no inhibitor can be taken. Default false: run it anyway. */
  strict?: boolean;
  /** Told about an inhibitor that could not be taken and other notes (default: ignored). */
  onWarning?: (text: string) => void;
  /** Told once the inhibitor is held, with what holds it. */
  onHeld?: (handle: AwakeHandle) => void;
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGINT'];

/** Take the inhibitor, or warn and carry on (unless strict). */
async function hold(options: RunAwakeOptions): Promise<AwakeHandle | undefined> {
  const { strict, onWarning, onHeld, ...awake } = options;
  try {
    const handle = await keepAwake(awake);
    for (const w of handle.warnings) onWarning?.(w);
    handle.on('lost', (mechanism, description) => onWarning?.(`${mechanism} ended early: ${description}`));
    onHeld?.(handle);
    return handle;
  } catch (error) {
    if (strict === true || !(error instanceof AwakeUnavailableError)) throw error;
    onWarning?.(`${error.message}\ncontinuing without a sleep inhibitor (--strict refuses)`);
    return undefined;
  }
}

/**
 * Run `command` held awake; resolves to the exit code to report.
 * @example process.exitCode = await runAwake('make', ['release'], { reason: 'release build' });
 */
export async function runAwake(command: string, args: readonly string[], options: RunAwakeOptions = {}): Promise<number> {
  const handle = await hold(options);
  try {
    const child = spawn(command, [...args], { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => {
      if (signal === 'SIGINT' && process.stdin.isTTY) return;
      child.kill(signal);
    };
    const listeners = FORWARDED.map((signal) => {
      const listener = (): void => forward(signal);
      process.on(signal, listener);
      return [signal, listener] as const;
    });
    try {
      return await new Promise<number>((resolve) => {
        child.once('error', (error: NodeJS.ErrnoException) => {
          options.onWarning?.(`cannot run ${command}: ${error.message}`);
          resolve(error.code === 'ENOENT' ? 127 : 126);
        });
        child.once('exit', (code, signal) => {
          if (signal !== null) resolve(128 + (os.constants.signals[signal] ?? 0));
          else resolve(code ?? 1);
        });
      });
    } finally {
      for (const [signal, listener] of listeners) process.off(signal, listener);
    }
  } finally {
    await handle?.release();
  }
}

/** True while process `pid` exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface HoldAwakeOptions extends RunAwakeOptions {
  /** Hold while this process lives. */
  pid?: number;
  /** Hold for this long, in ms. */
  forMs?: number;
  /** Stop early when aborted (the CLI aborts on SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** How often to check `pid`, in ms. Default 1000. */
  pollMs?: number;
}

/**
 * Hold the machine awake until `pid` exits, `forMs` passes or `signal` aborts (whichever comes
 * first; with none of them, until aborted). Resolves to the reason it stopped. The wait keeps
 * the event loop alive: it is what the caller is waiting for.
 * @example await holdAwake({ pid: 4242, reason: 'waiting for the render' });
 */
export async function holdAwake(options: HoldAwakeOptions): Promise<'pid-exited' | 'time-up' | 'aborted'> {
  const { pid, forMs, signal, pollMs = 1000, ...rest } = options;
  if (pid !== undefined && !pidAlive(pid)) throw new Error(`no process with pid ${pid}`);
  const handle = await hold(rest);
  const started = Date.now();
  try {
    for (;;) {
      if (signal?.aborted === true) return 'aborted';
      if (pid !== undefined && !pidAlive(pid)) return 'pid-exited';
      const left = forMs === undefined ? Infinity : forMs - (Date.now() - started);
      if (left <= 0) return 'time-up';
      try {
        await sleep(Math.min(left, pid === undefined ? 2 ** 31 - 1 : pollMs), undefined, signal === undefined ? undefined : { signal });
      } catch {
        return 'aborted';
      }
    }
  } finally {
    await handle?.release();
  }
}
