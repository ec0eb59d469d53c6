/**
 * keepAwake: hold the machine awake (and optionally its display) until `release()`, with the
 * platform's own mechanism. Lid close and the power button cannot be blocked on any platform.
 *
 *   Linux    logind Inhibit("idle:sleep", ..., "block") held through systemd-inhibit; with
 *            `display`, also org.freedesktop.ScreenSaver.Inhibit on the session bus
 *   macOS    caffeinate -i [-d] -w <our pid>
 *   Windows  SetThreadExecutionState(ES_CONTINUOUS|ES_SYSTEM_REQUIRED[|ES_DISPLAY_REQUIRED])
 *            in a PowerShell helper
 *
 * Invariants: every inhibitor ends when the handle is released or this process dies, whichever
 * comes first (helpers wait for EOF on our pipe or watch our pid); nothing here keeps the event
 * loop alive. If the machine-sleep inhibitor cannot be taken, `keepAwake` rejects with
 * `AwakeUnavailableError` naming each mechanism tried and why it failed. A display inhibitor that
 * fails while the sleep one holds is a warning on the handle, not an error.
 */
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { accessSync } from 'node:fs';
import path from 'node:path';
import { AwakeUnavailableError } from './awake-errors.js';
import type { AwakeAttempt } from './awake-errors.js';
import { HeldProcess } from './held-process.js';
import { holdLogind, holdScreenSaver } from './linux-inhibitors.js';
import type { ScreenSaverHold } from './linux-inhibitors.js';
import { caffeinateCommand } from './macos-inhibitor.js';
import { powershellCommand } from './windows-inhibitor.js';

export interface KeepAwakeOptions {
  /** Keep the display on too. Default false. */
  display?: boolean;
  /** Why, shown by `systemd-inhibit --list` and the like. Default "lifeline awake". */
  reason?: string;
  /** Who, shown next to the reason. Default "lifeline". */
  who?: string;
  /** Platform to act for (default process.platform; tests set it). */
  platform?: NodeJS.Platform;
  /** D-Bus system bus address for logind (default: $LIFELINE_SYSTEM_BUS_ADDRESS, else the system default). */
  systemBusAddress?: string;
  /** D-Bus session bus address for the ScreenSaver (default: $DBUS_SESSION_BUS_ADDRESS). */
  sessionBusAddress?: string;
  /** How long to wait for a mechanism to answer, in ms. Default 5000. */
  timeoutMs?: number;
}

export interface AwakeHandleEvents {
  /** An inhibitor ended without release() (its helper was killed, logind restarted...). */
  lost: [mechanism: string, description: string];
}

/** A held inhibitor. */
export class AwakeHandle extends EventEmitter<AwakeHandleEvents> {
  /** What holds the machine awake, e.g. "logind idle:sleep (systemd-inhibit)". */
  readonly mechanisms: readonly string[];
  /** Mechanisms that were asked for but failed while another holds (e.g. the display one). */
  readonly warnings: readonly string[];
  readonly #release: (() => Promise<void>)[];
  #released = false;

  /** @internal */
  constructor(mechanisms: string[], warnings: string[], release: (() => Promise<void>)[]) {
    super();
    this.mechanisms = mechanisms;
    this.warnings = warnings;
    this.#release = release;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Let the machine sleep again. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const results = await Promise.allSettled(this.#release.map((r) => r()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw (failed).reason;
  }
}

/** The executable `name` on PATH, or undefined. */
export function findOnPath(name: string, searchPath: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * @example
 *   const awake = await keepAwake({ reason: 'nightly backup' });
 *   try { await backup(); } finally { await awake.release(); }
 */
export async function keepAwake(options: KeepAwakeOptions = {}): Promise<AwakeHandle> {
  const display = options.display ?? false;
  const reason = options.reason ?? 'lifeline awake';
  const who = options.who ?? 'lifeline';
  const platform = options.platform ?? process.platform;
  const timeoutMs = options.timeoutMs ?? 5000;
  const attempts: AwakeAttempt[] = [];
  const mechanisms: string[] = [];
  const warnings: string[] = [];
  const releases: (() => Promise<void>)[] = [];
  const handleEvents = new EventEmitter<AwakeHandleEvents>();
  const watch = (held: HeldProcess, name: string): void => {
    held.on('exit', (description) => handleEvents.emit('lost', name, description));
  };

  if (platform === 'linux') {
    const name = 'logind idle:sleep (systemd-inhibit)';
    const systemdInhibit = findOnPath('systemd-inhibit');
    if (systemdInhibit === undefined) {
      attempts.push({ mechanism: 'logind Inhibit via systemd-inhibit', reason: 'systemd-inhibit is not on PATH (no systemd here?)' });
    } else {
      try {
        const systemBusAddress = options.systemBusAddress ?? (process.env.LIFELINE_SYSTEM_BUS_ADDRESS || undefined);
        const held = await holdLogind({ who, why: reason, what: 'idle:sleep', systemBusAddress, systemdInhibit }, timeoutMs);
        watch(held, name);
        mechanisms.push(name);
        releases.push(() => held.release());
      } catch (error) {
        attempts.push({ mechanism: 'logind Inhibit via systemd-inhibit', reason: message(error) });
      }
    }
    if (display && mechanisms.length > 0) {
      try {
        const hold: ScreenSaverHold = await holdScreenSaver(who, reason, options.sessionBusAddress, timeoutMs);
        mechanisms.push('org.freedesktop.ScreenSaver (display)');
        releases.push(() => hold.release());
      } catch (error) {
        warnings.push(`display: org.freedesktop.ScreenSaver.Inhibit failed: ${message(error)}`);
      }
    }
  } else if (platform === 'darwin') {
    const { command, args } = caffeinateCommand({ display, pid: process.pid });
    try {
      const held = await HeldProcess.start({ command, args, marker: false, settleMs: 200, timeoutMs, stopWith: 'SIGTERM' });
      watch(held, 'caffeinate');
      mechanisms.push(`caffeinate ${args.join(' ')}`);
      releases.push(() => held.release());
    } catch (error) {
      attempts.push({ mechanism: 'caffeinate', reason: message(error) });
    }
  } else if (platform === 'win32') {
    const { command, args } = powershellCommand(display);
    try {
      const held = await HeldProcess.start({ command, args, timeoutMs: Math.max(timeoutMs, 15_000) });
      watch(held, 'SetThreadExecutionState');
      mechanisms.push(`SetThreadExecutionState${display ? ' (system and display)' : ' (system)'} via PowerShell`);
      releases.push(() => held.release());
    } catch (error) {
      attempts.push({ mechanism: 'SetThreadExecutionState via PowerShell', reason: message(error) });
    }
  } else {
    attempts.push({ mechanism: 'none', reason: `no sleep inhibitor is known for platform '${platform}'` });
  }

  if (mechanisms.length === 0) throw new AwakeUnavailableError(platform, attempts);
  const handle = new AwakeHandle(mechanisms, warnings, releases);
  handleEvents.on('lost', (mechanism, description) => {
    if (!handle.released) handle.emit('lost', mechanism, description);
  });
  return handle;
}
