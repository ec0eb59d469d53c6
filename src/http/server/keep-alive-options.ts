/**
 * Options of the server keep-alive policy, their defaults and the rules between them.
 *
 * Why these defaults: the side that closes an idle connection must be the client side, so a
 * backend's idle timeout must be longer than every idle timeout in front of it. AWS ALB closes
 * idle connections at 60 s by default and Node's own 5 s default behind it gives 502s
 * (a long-standing Node report); nginx's `keepalive_timeout` is 75 s. So `idleTimeoutMs` is 75 s, and the
 * advertised `Keep-Alive: timeout=` is shorter than the real close by `hintMarginMs` (5 s), so a
 * client that honours the hint always closes first.
 *
 * Invariants checked here, once, when the controller is built (never a silent swap):
 * - `headersTimeoutMs <= requestTimeoutMs` when both are on;
 * - `hintMarginMs < idleTimeoutMs`; when the difference is under one second no hint is sent
 *   (`Keep-Alive: timeout=` counts whole seconds and 0 would mean "do not reuse");
 * - `drain.spreadMs <= drain.timeoutMs`.
 */
import type { Clock } from '../../core/clock.js';
import { InvalidOptionError } from '../../core/errors.js';
import { MAX_WHEEL_TIMEOUT_MS } from '../../core/timer-wheel.js';
import { clockOption, enumOption, integerOption, rejectUnknown } from '../../core/options.js';
import { checkTcpKeepAliveOptions } from '../../transport/tcp-keepalive.js';
import type { TcpKeepAliveOptions } from '../../transport/tcp-keepalive.js';

const MAX_MS = MAX_WHEEL_TIMEOUT_MS;

/** Options of {@link keepAlive} for `http.Server` and `https.Server`. Durations are integer ms. */
export interface KeepAliveOptions {
  /** Close a connection after this long with no request in progress. Default 75 000 (above
   * AWS ALB's 60 s). 0 turns keep-alive off: every response carries `Connection: close`. */
  idleTimeoutMs?: number;
  /** The advertised `Keep-Alive: timeout=` is `floor((idleTimeoutMs - hintMarginMs) / 1000)` s,
   * so a client that honours it closes before the server does. Default 5 000. 0 advertises the
   * real timeout (rounded down), which races the close. Under a 1 s difference, no hint is sent. */
  hintMarginMs?: number;
  /** Requests served on one connection; the last one carries `Connection: close` (nginx's
   * `keepalive_requests`). Default 0 = no limit, as in Node, HAProxy, Envoy and Go: nginx's
   * 1 000 frees nginx's per-connection memory pools, which a Node connection does not have, and
   * behind a load balancer it would make the balancer's busiest pooled connections reconnect
   * most often. `maxConnectionAgeMs` recycles connections by time instead. */
  maxRequestsPerConnection?: number;
  /** After this long, the next request on the connection is answered with `Connection: close`
   * (nginx's `keepalive_time`). Default 3 600 000 (1 h). 0 = no limit. */
  maxConnectionAgeMs?: number;
  /** TCP keepalive on every accepted socket (nginx's `listen ... so_keepalive=`): `idleMs`,
   * `intervalMs`, `count`, `userTimeoutMs`, as `setTcpKeepAlive` in lifeline/transport takes
   * them. Default: not set (the kernel's default, keepalive off). */
  tcpKeepAlive?: TcpKeepAliveOptions;
  /** Open connections at most. At the cap a newcomer closes the least recently used idle
   * connection; with none idle, see `whenFull`. Default 0 = no cap. */
  maxConnections?: number;
  /** At the cap with no idle connection: `'reject'` answers the newcomer's first request with
   * 503 and `Connection: close`; `'pause'` holds it unread until a connection frees (at most
   * `headersTimeoutMs`, then 503). Default `'reject'`. */
  whenFull?: 'reject' | 'pause';
  /** From the first byte of a request to the end of its headers; then 408 and close. Default
   * 60 000 (nginx's `client_header_timeout`). 0 = no limit. */
  headersTimeoutMs?: number;
  /** From the first byte of a request to the end of its body; then 408 (if no response began)
   * and close. Default 300 000 (Node's). 0 = no limit. Must be >= `headersTimeoutMs`. */
  requestTimeoutMs?: number;
  clock?: Clock;
}

export interface ResolvedKeepAliveOptions {
  idleTimeoutMs: number;
  hintMarginMs: number;
  maxRequestsPerConnection: number;
  maxConnectionAgeMs: number;
  maxConnections: number;
  whenFull: 'reject' | 'pause';
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  tcpKeepAlive: Readonly<TcpKeepAliveOptions> | null;
  clock: Clock;
}

const KNOWN = [
  'idleTimeoutMs',
  'hintMarginMs',
  'maxRequestsPerConnection',
  'maxConnectionAgeMs',
  'maxConnections',
  'whenFull',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'tcpKeepAlive',
  'clock',
];

/** Validate and complete the HTTP/1 options. Throws InvalidOptionError (a TypeError) naming the option. */
export function resolveKeepAliveOptions(options: KeepAliveOptions | undefined): ResolvedKeepAliveOptions {
  const W = 'keepAlive';
  const o = rejectUnknown(W, options, KNOWN);
  const idleTimeoutMs = integerOption(W, o, 'idleTimeoutMs', 75_000, { min: 0, max: MAX_MS, note: '(0 turns keep-alive off)' });
  const hintMarginMs = integerOption(W, o, 'hintMarginMs', Math.min(5_000, Math.max(0, idleTimeoutMs - 1_000)), { min: 0, max: MAX_MS });
  if (idleTimeoutMs > 0 && hintMarginMs >= idleTimeoutMs) {
    throw new InvalidOptionError(`${W}.hintMarginMs`, `${W}.hintMarginMs must be below idleTimeoutMs (${idleTimeoutMs}); got ${hintMarginMs}`);
  }
  const headersTimeoutMs = integerOption(W, o, 'headersTimeoutMs', 60_000, { min: 0, max: MAX_MS, note: '(0 = no limit)' });
  const requestTimeoutMs = integerOption(W, o, 'requestTimeoutMs', 300_000, { min: 0, max: MAX_MS, note: '(0 = no limit)' });
  if (headersTimeoutMs > 0 && requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new InvalidOptionError(
      `${W}.headersTimeoutMs`,
      `${W}.headersTimeoutMs must be <= requestTimeoutMs (${requestTimeoutMs}) when both are on; got ${headersTimeoutMs}`,
    );
  }
  return {
    idleTimeoutMs,
    hintMarginMs,
    maxRequestsPerConnection: integerOption(W, o, 'maxRequestsPerConnection', 0, { min: 0, max: 2 ** 31 - 1, note: '(0 = no limit)' }),
    maxConnectionAgeMs: integerOption(W, o, 'maxConnectionAgeMs', 3_600_000, { min: 0, max: Number.MAX_SAFE_INTEGER, note: '(0 = no limit)' }),
    maxConnections: integerOption(W, o, 'maxConnections', 0, { min: 0, max: 4_000_000, note: '(0 = no cap)' }),
    whenFull: enumOption(W, o, 'whenFull', 'reject', ['reject', 'pause']),
    headersTimeoutMs,
    requestTimeoutMs,
    tcpKeepAlive: o.tcpKeepAlive === undefined ? null : checkTcpKeepAliveOptions(o.tcpKeepAlive, `${W}.tcpKeepAlive`),
    clock: clockOption(W, o),
  };
}

/** Options of `drain()`. */
export interface DrainOptions {
  /** Force-close whatever is still open after this long. Default 30 000. */
  timeoutMs?: number;
  /** Spread the closes uniformly over this window (HAProxy's `close-spread-time`) so a load
   * balancer in front sees no cliff. Default 0: idle connections close at once and busy ones
   * are told `Connection: close` at once. */
  spreadMs?: number;
}

export function resolveDrainOptions(options: DrainOptions | undefined): { timeoutMs: number; spreadMs: number } {
  const W = 'drain';
  const o = rejectUnknown(W, options, ['timeoutMs', 'spreadMs']);
  const timeoutMs = integerOption(W, o, 'timeoutMs', 30_000, { min: 0, max: MAX_MS });
  const spreadMs = integerOption(W, o, 'spreadMs', 0, { min: 0, max: MAX_MS });
  if (spreadMs > timeoutMs) {
    throw new InvalidOptionError(`${W}.spreadMs`, `${W}.spreadMs must be <= timeoutMs (${timeoutMs}); got ${spreadMs}`);
  }
  return { timeoutMs, spreadMs };
}
