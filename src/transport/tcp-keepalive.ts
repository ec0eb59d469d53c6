/**
 * TCP keepalive with full control: idle time, probe interval, probe count and TCP_USER_TIMEOUT.
 *
 * Why: Node's `socket.setKeepAlive(true, ms)` sets only the idle time (libuv picks a 1 s interval
 * and 10 probes on Linux) and cannot set TCP_USER_TIMEOUT, so "how long until a silent peer is
 * declared dead" is not under the caller's control. On Linux, with the native addon, this module
 * sets all five socket options and reads them back.
 *
 * Invariants and kernel facts (Linux):
 * - TCP_KEEPIDLE and TCP_KEEPINTVL take WHOLE SECONDS (min 1). We round both up, so probes never
 *   start earlier than asked. The keepalive timer fires at idle, idle + interval, ... after the
 *   last inbound packet, and only on that whole-second grid.
 * - Without TCP_USER_TIMEOUT the kernel ends an idle connection after `count` unanswered probes:
 *   at idle + count * interval. With TCP_USER_TIMEOUT set, the kernel uses it in place of the
 *   count: the connection ends at the first keepalive firing (after at least one probe) at or
 *   after the user timeout. So when rounding changed the requested bound idleMs + intervalMs *
 *   count and the caller gave no userTimeoutMs, we set TCP_USER_TIMEOUT to that requested bound:
 *   the connection then ends at the first grid point at or after it (`deadAfterMs` in the result
 *   says exactly when). The grid cannot express a bound between two firings (2.5 s with 1 s
 *   steps ends at 3 s); nothing short of a user-space heartbeat can.
 * - TCP_USER_TIMEOUT also bounds unacknowledged data. Keepalive does not probe while data is in
 *   flight, so without a user timeout a peer that vanishes mid-write is found only by
 *   retransmission backoff (about 15 minutes by default). Its clock starts at the first RTO
 *   retransmission, not the first send: on a LAN a write into a silent link fails about
 *   userTimeoutMs + 0.4 s later (tail-loss probe ~0.2 s, minimum RTO 0.2 s; measured, Linux 6.18).
 * - Each call states the whole configuration: TCP_USER_TIMEOUT is set to the caller's value, the
 *   rounding value, or 0 (kernel default) — a value from an earlier call never lingers.
 * - Anyone calling `socket.setKeepAlive()` afterwards (Node's http.Agent does, on reuse)
 *   overwrites idle, interval and count. Apply this after such code.
 * - A socket still connecting has no fd yet: the options are applied on 'connect'. If that
 *   deferred apply fails, the socket is destroyed with the error (the caller asked for a bound
 *   we could not set; a silent socket without it would be worse).
 * - Without the addon, or off Linux, we fall back to `socket.setKeepAlive(true, idle)` and emit
 *   one process warning; that never throws for a platform reason.
 */
import type { Socket } from 'node:net';
import { ClosedError, LifelineError } from '../core/errors.js';
import { booleanOption, optionalIntegerOption, rejectUnknown, requiredIntegerOption } from '../core/options.js';
import type { NativeTcpBinding } from './native.js';
import { loadNativeTcp } from './native.js';

/** Options for {@link setTcpKeepAlive} with keepalive on. All durations are integer ms. */
export interface TcpKeepAliveOnOptions {
  /** SO_KEEPALIVE. Default true. */
  enable?: true;
  /** Silence before the first probe, ms (1 to 32 767 000; rounded up to whole seconds). */
  idleMs: number;
  /** Time between probes, ms (1 to 32 767 000; rounded up to whole seconds). */
  intervalMs: number;
  /** Unanswered probes that end the connection (1 to 127). */
  count: number;
  /** TCP_USER_TIMEOUT, ms (0 to 2 147 483 647): how long sent data, or keepalive probes, may go
   * unacknowledged before the kernel ends the connection. 0 is the kernel default (off). When
   * omitted, it is set only to correct whole-second rounding (see the module comment), else 0. */
  userTimeoutMs?: number;
}

/** Options for {@link setTcpKeepAlive} with keepalive off; the user timeout still applies. */
export interface TcpKeepAliveOffOptions {
  enable: false;
  idleMs?: number;
  intervalMs?: number;
  count?: number;
  /** TCP_USER_TIMEOUT, ms; 0 or omitted is the kernel default (off). */
  userTimeoutMs?: number;
}

export type TcpKeepAliveOptions = TcpKeepAliveOnOptions | TcpKeepAliveOffOptions;

/** What was (or, for a connecting socket, will be) set. Values are the effective ones. */
export interface TcpKeepAliveResult {
  mechanism: 'native' | 'setKeepAlive-fallback';
  enable: boolean;
  /** Effective idle time in ms (whole seconds); undefined when keepalive is off. */
  idleMs: number | undefined;
  /** Effective probe interval in ms; undefined when off or not settable (fallback). */
  intervalMs: number | undefined;
  /** Effective probe count; undefined when off or not settable (fallback). */
  count: number | undefined;
  /** TCP_USER_TIMEOUT set, ms (0 = off); undefined when not settable (fallback). */
  userTimeoutMs: number | undefined;
  /** Time from the last inbound packet until the kernel ends an idle connection whose peer went
   * silent, ms; undefined when keepalive is off or the fallback leaves it to the platform. */
  deadAfterMs: number | undefined;
  /** True when the socket was still connecting: the values are applied on 'connect'. */
  pending: boolean;
}

/** Keepalive settings read back from the socket with getsockopt. */
export interface TcpKeepAliveReadback {
  enable: boolean;
  idleMs: number | undefined;
  intervalMs: number | undefined;
  count: number | undefined;
  userTimeoutMs: number | undefined;
}

/** @internal What the choice of mechanism depends on; tests pass their own to take the fallback. */
export interface TcpKeepAliveHost {
  readonly native: NativeTcpBinding | undefined;
  readonly platform: NodeJS.Platform;
}

const WHERE = 'tcpKeepAlive';
const KNOWN = ['enable', 'idleMs', 'intervalMs', 'count', 'userTimeoutMs'];
const MAX_KEEP_SECONDS = 32_767; // MAX_TCP_KEEPIDLE and MAX_TCP_KEEPINTVL in the kernel
const MAX_KEEP_COUNT = 127; // MAX_TCP_KEEPCNT
const MAX_USER_TIMEOUT_MS = 2 ** 31 - 1; // the option is a C int
/** The `code` of the one process warning emitted when the fallback is used. */
export const TCP_KEEPALIVE_FALLBACK_WARNING = 'LIFELINE_TCP_KEEPALIVE_FALLBACK';

/** Validated options turned into exactly what the kernel will be given. */
interface Plan {
  enable: boolean;
  idleSec: number;
  intervalSec: number;
  count: number;
  userTimeoutMs: number;
}

function plan(options: TcpKeepAliveOptions, where = WHERE): Plan {
  const o = rejectUnknown(where, options, KNOWN);
  const enable = booleanOption(where, o, 'enable', true);
  const userTimeout = optionalIntegerOption(where, o, 'userTimeoutMs', { min: 0, max: MAX_USER_TIMEOUT_MS, note: '(0 = kernel default)' });
  const keepRange = { min: 1, max: MAX_KEEP_SECONDS * 1000, note: '(rounded up to whole seconds)' };
  if (!enable) {
    // Off: timing options are meaningless, but a present one must still be valid.
    optionalIntegerOption(where, o, 'idleMs', keepRange);
    optionalIntegerOption(where, o, 'intervalMs', keepRange);
    optionalIntegerOption(where, o, 'count', { min: 1, max: MAX_KEEP_COUNT });
    return { enable, idleSec: -1, intervalSec: -1, count: -1, userTimeoutMs: userTimeout ?? 0 };
  }
  const idleMs = requiredIntegerOption(where, o, 'idleMs', keepRange);
  const intervalMs = requiredIntegerOption(where, o, 'intervalMs', keepRange);
  const count = requiredIntegerOption(where, o, 'count', { min: 1, max: MAX_KEEP_COUNT });
  const idleSec = Math.ceil(idleMs / 1000);
  const intervalSec = Math.ceil(intervalMs / 1000);
  const requestedMs = idleMs + intervalMs * count;
  const roundedMs = (idleSec + intervalSec * count) * 1000;
  const correct = requestedMs !== roundedMs && requestedMs <= MAX_USER_TIMEOUT_MS;
  return { enable, idleSec, intervalSec, count, userTimeoutMs: userTimeout ?? (correct ? requestedMs : 0) };
}

/** When the kernel ends an idle, silent connection under `p` (see the module comment). */
function deadAfter(p: Plan): number | undefined {
  if (!p.enable) return undefined;
  const idle = p.idleSec * 1000;
  const interval = p.intervalSec * 1000;
  if (p.userTimeoutMs === 0) return idle + p.count * interval;
  return idle + Math.max(1, Math.ceil((p.userTimeoutMs - idle) / interval)) * interval;
}

function nativeResult(p: Plan, pending: boolean): TcpKeepAliveResult {
  return {
    mechanism: 'native',
    enable: p.enable,
    idleMs: p.enable ? p.idleSec * 1000 : undefined,
    intervalMs: p.enable ? p.intervalSec * 1000 : undefined,
    count: p.enable ? p.count : undefined,
    userTimeoutMs: p.userTimeoutMs,
    deadAfterMs: deadAfter(p),
    pending,
  };
}

/** The socket's fd, or undefined while connecting / after close / off POSIX. */
function socketFd(socket: Socket): number | undefined {
  // `_handle` is Node's internal TCPWrap (or TLSWrap); `fd` is -1 until the OS socket exists.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

function applyNative(native: NativeTcpBinding, socket: Socket, p: Plan): void {
  const fd = socketFd(socket);
  if (fd === undefined) throw new ClosedError('socket');
  try {
    native.set(fd, p.enable, p.idleSec, p.intervalSec, p.count, p.userTimeoutMs);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new LifelineError('ERR_TCP_KEEPALIVE', `setting TCP keepalive failed: ${text}`, { cause: error });
  }
}

// Once per process, module-level: the warning is about the environment (no addon, not Linux),
// which cannot change while the process runs, so repeating it per socket would only be noise.
// It carries no behaviour: every call still decides its mechanism from its own host.
let fallbackWarned = false;

function fallback(socket: Socket, p: Plan, reason: string): TcpKeepAliveResult {
  if (!fallbackWarned) {
    fallbackWarned = true;
    process.emitWarning(
      `TCP keepalive falls back to socket.setKeepAlive() (${reason}): only the idle time is set; ` +
        'the probe interval, count and TCP_USER_TIMEOUT are left to the platform.',
      { type: 'LifelineWarning', code: TCP_KEEPALIVE_FALLBACK_WARNING },
    );
  }
  // setKeepAlive takes ms but the OS takes whole seconds; pass the rounded value so it is exact.
  socket.setKeepAlive(p.enable, p.enable ? p.idleSec * 1000 : 0);
  return {
    mechanism: 'setKeepAlive-fallback',
    enable: p.enable,
    idleMs: p.enable ? p.idleSec * 1000 : undefined,
    intervalMs: undefined,
    count: undefined,
    userTimeoutMs: undefined,
    deadAfterMs: undefined,
    pending: socket.connecting,
  };
}

/**
 * Validate keepalive options before there is a socket (a server's option, applied to every
 * accepted socket later), so a bad value fails at configuration time. `where` prefixes the option
 * names in errors, e.g. `keepAlive.tcpKeepAlive` gives `keepAlive.tcpKeepAlive.idleMs`.
 * Returns a frozen copy.
 */
export function checkTcpKeepAliveOptions(options: unknown, where = WHERE): Readonly<TcpKeepAliveOptions> {
  plan(options as TcpKeepAliveOptions, where);
  return Object.freeze({ ...(options as TcpKeepAliveOptions) });
}

/**
 * Set TCP keepalive (idle, interval, count) and TCP_USER_TIMEOUT on a client or accepted socket.
 * Returns the effective values; see the module comment for the whole-second rounding rule.
 * Throws InvalidOptionError for bad options, ClosedError for a destroyed socket, and
 * LifelineError `ERR_TCP_KEEPALIVE` if the kernel refuses a value.
 *
 * @example
 *   const socket = net.connect(port, host);
 *   const r = setTcpKeepAlive(socket, { idleMs: 1000, intervalMs: 500, count: 3 });
 *   // r.idleMs === 1000, r.intervalMs === 1000, r.userTimeoutMs === 2500, r.deadAfterMs === 3000
 *   setTcpKeepAlive(socket, { enable: false, userTimeoutMs: 1500 }); // bound unacked writes only
 */
export function setTcpKeepAlive(socket: Socket, options: TcpKeepAliveOptions): TcpKeepAliveResult {
  return setTcpKeepAliveWith({ native: loadNativeTcp(), platform: process.platform }, socket, options);
}

/** @internal {@link setTcpKeepAlive} with the platform facts given, so tests can reach the fallback. */
export function setTcpKeepAliveWith(host: TcpKeepAliveHost, socket: Socket, options: TcpKeepAliveOptions): TcpKeepAliveResult {
  const p = plan(options);
  if (socket.destroyed) throw new ClosedError('socket');
  const native = host.native;
  if (native === undefined) return fallback(socket, p, 'the native addon is not built');
  if (host.platform !== 'linux') return fallback(socket, p, `platform ${host.platform} is not Linux`);
  if (socket.connecting) {
    socket.once('connect', () => {
      try {
        applyNative(native, socket, p);
      } catch (error) {
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    });
    return nativeResult(p, true);
  }
  if (socketFd(socket) === undefined) return fallback(socket, p, 'the socket has no file descriptor');
  applyNative(native, socket, p);
  return nativeResult(p, false);
}

/**
 * Read the socket's keepalive settings back with getsockopt (durations in ms). Undefined when
 * they cannot be read: no native addon, or no open fd (still connecting, or closed).
 *
 * @example
 *   const now = getTcpKeepAlive(socket); // { enable: true, idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: 2500 }
 */
export function getTcpKeepAlive(socket: Socket): TcpKeepAliveReadback | undefined {
  const native = loadNativeTcp();
  const fd = socketFd(socket);
  if (native === undefined || fd === undefined) return undefined;
  const raw = native.get(fd);
  const seconds = (s: number | null): number | undefined => (s === null ? undefined : s * 1000);
  return {
    enable: raw.enable === 1,
    idleMs: seconds(raw.idleSec),
    intervalMs: seconds(raw.intervalSec),
    count: raw.count ?? undefined,
    userTimeoutMs: raw.userTimeoutMs ?? undefined,
  };
}
