/**
 * Linux sleep inhibitors.
 *
 * logind: `Inhibit("idle:sleep", who, why, "block")` on org.freedesktop.login1 returns a file
 * descriptor and the inhibitor lasts while any copy of it is open. Holding that descriptor needs
 * a D-Bus client that can receive Unix file descriptors (SCM_RIGHTS). @particle/dbus-next 0.11
 * cannot: it talks over a plain `net.Socket`, never negotiates NEGOTIATE_UNIX_FD (its fd support
 * needed the native `usocket` module, which the fork dropped), and Node sockets cannot receive
 * descriptors. So the descriptor is held by `systemd-inhibit`, logind's own client, run as a
 * held helper (see held-process.ts) whose child waits for EOF on our pipe; the inhibitor ends on
 * release or when this process dies.
 *
 * Display: `org.freedesktop.ScreenSaver.Inhibit(app, reason) -> cookie` on the session bus
 * (GNOME, KDE, Xfce, and the desktop portal's backends implement it) keeps the screen from
 * blanking. It needs no descriptor, so it goes through @particle/dbus-next. The connection is
 * kept open: implementations drop a cookie when its caller leaves the bus.
 *
 * Bus addresses are injectable (`systemBusAddress`, `sessionBusAddress`, or the environment
 * variables LIFELINE_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS) so tests run against a
 * private bus.
 */
import type { MessageBus } from '@particle/dbus-next';
import { HeldProcess, READY_MARKER } from './held-process.js';

export interface LogindSpec {
  who: string;
  why: string;
  /** logind "what": colon-separated, default idle:sleep. */
  what: string;
  systemBusAddress: string | undefined;
  systemdInhibit: string;
}

/** The argv that holds logind's inhibitor through systemd-inhibit (exported for tests and docs). */
export function systemdInhibitCommand(spec: LogindSpec): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (spec.systemBusAddress !== undefined) env.DBUS_SYSTEM_BUS_ADDRESS = spec.systemBusAddress;
  return {
    command: spec.systemdInhibit,
    args: [`--what=${spec.what}`, `--who=${spec.who}`, `--why=${spec.why}`, '--mode=block', 'sh', '-c', `echo ${READY_MARKER}; exec cat >/dev/null`],
    env,
  };
}

export function holdLogind(spec: LogindSpec, timeoutMs: number): Promise<HeldProcess> {
  const { command, args, env } = systemdInhibitCommand(spec);
  return HeldProcess.start({ command, args, env, timeoutMs });
}

/** A held ScreenSaver inhibition. */
export interface ScreenSaverHold {
  cookie: number;
  release(): Promise<void>;
}

const SCREENSAVER_PATHS = ['/org/freedesktop/ScreenSaver', '/ScreenSaver'];

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Unref the bus's socket so a held inhibition never keeps the process alive. */
function unrefBus(bus: MessageBus): void {
  const stream = (bus as unknown as { _connection?: { stream?: { unref?: () => void } } })._connection?.stream;
  stream?.unref?.();
}

export async function holdScreenSaver(app: string, reason: string, sessionBusAddress: string | undefined, timeoutMs: number): Promise<ScreenSaverHold> {
  const address = sessionBusAddress ?? process.env.DBUS_SESSION_BUS_ADDRESS;
  if (address === undefined || address === '') throw new Error('no session bus (DBUS_SESSION_BUS_ADDRESS is unset)');
  const dbus = await import('@particle/dbus-next');
  const bus = dbus.sessionBus({ busAddress: address });
  const errors: string[] = [];
  bus.on('error', (error: unknown) => errors.push(error instanceof Error ? error.message : String(error)));
  try {
    let lastError: unknown;
    for (const path of SCREENSAVER_PATHS) {
      try {
        const message = new dbus.Message({ destination: 'org.freedesktop.ScreenSaver', path, interface: 'org.freedesktop.ScreenSaver', member: 'Inhibit', signature: 'ss', body: [app, reason] });
        const reply = await withTimeout(bus.call(message), timeoutMs, 'ScreenSaver.Inhibit');
        const cookie = (reply?.body as unknown[] | undefined)?.[0];
        if (typeof cookie !== 'number') throw new Error('ScreenSaver.Inhibit returned no cookie');
        unrefBus(bus);
        return {
          cookie,
          release: async () => {
            try {
              const un = new dbus.Message({ destination: 'org.freedesktop.ScreenSaver', path, interface: 'org.freedesktop.ScreenSaver', member: 'UnInhibit', signature: 'u', body: [cookie] });
              await withTimeout(bus.call(un), timeoutMs, 'ScreenSaver.UnInhibit');
            } finally {
              bus.disconnect();
            }
          },
        };
      } catch (error) {
        lastError = error;
        const name = (error as { type?: unknown }).type;
        if (name !== 'org.freedesktop.DBus.Error.UnknownObject' && name !== 'org.freedesktop.DBus.Error.UnknownMethod') break;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  } catch (error) {
    bus.disconnect();
    const text = error instanceof Error ? error.message : String(error);
    throw new Error(errors.length > 0 ? `${text} (${errors[0]})` : text);
  }
}
