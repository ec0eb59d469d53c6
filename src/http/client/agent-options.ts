/**
 * Options of KeepAliveAgent and HttpsKeepAliveAgent: names, units, defaults and checks.
 *
 * Why one module: both agents validate the same way, when they are built, and name the bad
 * option in an InvalidOptionError. Node's own socket and TLS options that an `http.Agent` /
 * `https.Agent` accepts are passed through unchanged (so the agent stays a drop-in); anything
 * else unknown is an error, so a typo such as `freeSocketTimeout` cannot be silently ignored.
 */
import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Clock } from '../../core/clock.js';
import { InvalidOptionError } from '../../core/errors.js';
import {
  booleanOption,
  checkInteger,
  clockOption,
  enumOption,
  integerOption,
  objectOption,
  optionalIntegerOption,
  rejectUnknown,
  requiredIntegerOption,
} from '../../core/options.js';
import type { OptionBag } from '../../core/options.js';
import { MAX_WHEEL_TIMEOUT_MS } from '../../core/timer-wheel.js';
import type { TcpKeepAliveOptions } from '../../transport/tcp-keepalive.js';
import type { TlsSessionCache } from '../../transport/tls-session-cache.js';

/** Options shared by both agents. Every duration is integer milliseconds. */
export interface KeepAliveAgentOptions {
  /** Accepted for drop-in compatibility with `new http.Agent({ keepAlive: true })`; only `true`. */
  keepAlive?: true;
  /** Most sockets per origin (active + free). Default Infinity (as Node). */
  maxSockets?: number;
  /** Most sockets over all origins. Default Infinity. */
  maxTotalSockets?: number;
  /** Most idle sockets kept per origin. Default 256 (as Node). */
  maxFreeSockets?: number;
  /** How long an idle socket is kept, ms (min 1). Default 4000, below common 5 s server timeouts. */
  freeSocketTimeoutMs?: number;
  /** Longest life of a socket from its creation, ms; it is not reused after. 0 (default) = no limit. */
  socketActiveTtlMs?: number;
  /** Subtracted from a server's `Keep-Alive: timeout=N` hint, ms. Default 1000 (as Node). The
   * server policy's name for the same margin. */
  hintMarginMs?: number;
  /** @deprecated The old name of `hintMarginMs`; accepted for one release with a warning. */
  keepAliveHintMarginMs?: number;
  /** Requests per socket before it is closed. 0 (default) = no limit. */
  maxRequestsPerSocket?: number;
  /** Which idle socket to reuse: 'lifo' (default, the most recent) or 'fifo'. */
  scheduling?: 'lifo' | 'fifo';
  /** TCP keepalive on every socket (lifeline/transport `setTcpKeepAlive`). Default: Node's
   * (SO_KEEPALIVE after `keepAliveMsecs`, platform interval and count). */
  tcpKeepAlive?: TcpKeepAliveOptions;
  /** Most request bytes kept per request on a reused socket so the request can be sent again on
   * a new connection if the socket turns out dead, bytes. Larger requests are not replayed.
   * 0 = only requests with no byte written are retried. Default 1 MiB. */
  replayMaxBytes?: number;
  /** Time source for idle deadlines (tests pass a FakeClock). */
  clock?: Clock;
  /** Node's: SO_KEEPALIVE initial delay when `tcpKeepAlive` is not given, ms. Default 1000. */
  keepAliveMsecs?: number;
  /** Node's socket options, passed to `net.connect` / `tls.connect`. */
  noDelay?: boolean;
  family?: number;
  localAddress?: string;
  lookup?: HttpsAgentOptions['lookup'];
}

/** TLS options an `https.Agent` accepts, passed to `tls.connect`. */
export type PassThroughTlsOptions = Pick<
  HttpsAgentOptions,
  | 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername' | 'ciphers'
  | 'ecdhCurve' | 'minVersion' | 'maxVersion' | 'checkServerIdentity' | 'secureOptions' | 'secureProtocol'
  | 'sigalgs' | 'crl' | 'secureContext' | 'privateKeyEngine' | 'privateKeyIdentifier' | 'clientCertEngine'
>;

/** Options of HttpsKeepAliveAgent. */
export interface HttpsKeepAliveAgentOptions extends KeepAliveAgentOptions, PassThroughTlsOptions {
  /** TLS sessions cached for resumption, one per `servername:port`. 0 disables. Default 100 (as Node). */
  maxCachedSessions?: number;
  /** Share a session cache between agents (then `maxCachedSessions` must be omitted). */
  tlsSessionCache?: TlsSessionCache;
}

/** Validated settings the pool runs on. */
export interface AgentSettings {
  maxSockets: number;
  maxTotalSockets: number;
  maxFreeSockets: number;
  freeSocketTimeoutMs: number;
  socketActiveTtlMs: number;
  hintMarginMs: number;
  maxRequestsPerSocket: number;
  scheduling: 'lifo' | 'fifo';
  tcpKeepAlive: TcpKeepAliveOptions | undefined;
  /** SO_KEEPALIVE initial delay when `tcpKeepAlive` is not given, ms. */
  keepAliveMsecs: number;
  replayMaxBytes: number;
  clock: Clock;
  /** What goes to Node's Agent constructor (its own names and the pass-through options). */
  nodeOptions: Record<string, unknown>;
}

const OWN = [
  'keepAlive', 'maxSockets', 'maxTotalSockets', 'maxFreeSockets', 'freeSocketTimeoutMs', 'socketActiveTtlMs',
  'hintMarginMs', 'keepAliveHintMarginMs', 'maxRequestsPerSocket', 'scheduling', 'tcpKeepAlive', 'replayMaxBytes', 'clock',
];
const NODE_SOCKET = ['keepAliveMsecs', 'noDelay', 'family', 'localAddress', 'lookup'];
const NODE_TLS = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername', 'ciphers', 'ecdhCurve', 'minVersion',
  'maxVersion', 'checkServerIdentity', 'secureOptions', 'secureProtocol', 'sigalgs', 'crl', 'secureContext',
  'privateKeyEngine', 'privateKeyIdentifier', 'clientCertEngine',
];
const HTTPS_OWN = ['maxCachedSessions', 'tlsSessionCache'];
const MAX_MS = 2 ** 31 - 1;
const TCP_KEYS = ['enable', 'idleMs', 'intervalMs', 'count', 'userTimeoutMs'];

/** A count that may be Infinity (Node's default for socket caps). */
function capOption(where: string, o: OptionBag, name: string): number {
  const value = o[name];
  if (value === undefined || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return checkInteger(`${where}.${name}`, value, { min: 1, note: '(or Infinity)' });
}

/** Check tcpKeepAlive now (the transport checks again when it applies it to each socket). */
function tcpKeepAliveOption(where: string, o: OptionBag): TcpKeepAliveOptions | undefined {
  const bag = objectOption(where, o, 'tcpKeepAlive');
  if (bag === undefined) return undefined;
  const at = `${where}.tcpKeepAlive`;
  const t = rejectUnknown(at, bag, TCP_KEYS);
  const enable = booleanOption(at, t, 'enable', true);
  const keep = { min: 1, max: 32_767_000 };
  optionalIntegerOption(at, t, 'userTimeoutMs', { min: 0, max: MAX_MS, note: '(0 = kernel default)' });
  if (enable) {
    requiredIntegerOption(at, t, 'idleMs', keep);
    requiredIntegerOption(at, t, 'intervalMs', keep);
    requiredIntegerOption(at, t, 'count', { min: 1, max: 127 });
  } else {
    optionalIntegerOption(at, t, 'idleMs', keep);
    optionalIntegerOption(at, t, 'intervalMs', keep);
    optionalIntegerOption(at, t, 'count', { min: 1, max: 127 });
  }
  return { ...t } as unknown as TcpKeepAliveOptions;
}

export const HINT_MARGIN_DEPRECATION = 'LIFELINE_DEP_KEEP_ALIVE_HINT_MARGIN';

// Once per process, module-level, as Node's own deprecations: the warning is about the code that
// uses the old name, and repeating it for every agent built would only be noise.
let hintMarginWarned = false;

/** `hintMarginMs`, or its deprecated name `keepAliveHintMarginMs` (one warning per process). */
function hintMarginOption(where: string, o: OptionBag): number {
  if (o.keepAliveHintMarginMs === undefined) return integerOption(where, o, 'hintMarginMs', 1000, { min: 0, max: MAX_MS });
  if (o.hintMarginMs !== undefined) {
    throw new InvalidOptionError(`${where}.keepAliveHintMarginMs`, `${where}.keepAliveHintMarginMs is the deprecated name of hintMarginMs; give only hintMarginMs`);
  }
  const value = integerOption(where, o, 'keepAliveHintMarginMs', 1000, { min: 0, max: MAX_MS });
  if (!hintMarginWarned) {
    hintMarginWarned = true;
    process.emitWarning(`${where}: the option keepAliveHintMarginMs is deprecated; use hintMarginMs (the server policy's name for the same margin)`, {
      type: 'DeprecationWarning',
      code: HINT_MARGIN_DEPRECATION,
    });
  }
  return value;
}

/**
 * Validate an options object; throws InvalidOptionError naming the first bad option.
 * @example const settings = resolveAgentOptions('KeepAliveAgent', { freeSocketTimeoutMs: 3000 }, false);
 */
export function resolveAgentOptions(where: string, options: unknown, https: boolean): AgentSettings {
  const known = https ? [...OWN, ...NODE_SOCKET, ...NODE_TLS, ...HTTPS_OWN] : [...OWN, ...NODE_SOCKET];
  const o = rejectUnknown(where, options, known);
  if (o.keepAlive !== undefined && o.keepAlive !== true) {
    throw new InvalidOptionError(`${where}.keepAlive`, `${where}.keepAlive must be true (use http.Agent for no keep-alive); got ${JSON.stringify(o.keepAlive) ?? 'undefined'}`);
  }
  const settings: AgentSettings = {
    maxSockets: capOption(where, o, 'maxSockets'),
    maxTotalSockets: capOption(where, o, 'maxTotalSockets'),
    maxFreeSockets: integerOption(where, o, 'maxFreeSockets', 256, { min: 0, note: '(0 keeps no idle socket)' }),
    freeSocketTimeoutMs: integerOption(where, o, 'freeSocketTimeoutMs', 4000, { min: 1, max: MAX_WHEEL_TIMEOUT_MS }),
    socketActiveTtlMs: integerOption(where, o, 'socketActiveTtlMs', 0, { min: 0, max: MAX_MS, note: '(0 = no limit)' }),
    hintMarginMs: hintMarginOption(where, o),
    maxRequestsPerSocket: integerOption(where, o, 'maxRequestsPerSocket', 0, { min: 0, note: '(0 = no limit)' }),
    scheduling: enumOption(where, o, 'scheduling', 'lifo', ['lifo', 'fifo'] as const),
    tcpKeepAlive: tcpKeepAliveOption(where, o),
    keepAliveMsecs: integerOption(where, o, 'keepAliveMsecs', 1000, { min: 0, max: MAX_MS }),
    replayMaxBytes: integerOption(where, o, 'replayMaxBytes', 1024 * 1024, { min: 0, max: MAX_MS }),
    clock: clockOption(where, o),
    nodeOptions: {},
  };
  for (const name of [...NODE_SOCKET, ...NODE_TLS]) {
    if (o[name] !== undefined) settings.nodeOptions[name] = o[name];
  }
  // Node's agent must believe in keep-alive (requests then send `Connection: keep-alive`); its
  // caps are set too so that code reading `agent.maxSockets` sees the real values.
  Object.assign(settings.nodeOptions, {
    keepAlive: true,
    maxSockets: settings.maxSockets,
    maxFreeSockets: Math.max(1, settings.maxFreeSockets),
    scheduling: settings.scheduling,
    ...(settings.maxTotalSockets === Number.POSITIVE_INFINITY ? {} : { maxTotalSockets: settings.maxTotalSockets }),
  });
  return settings;
}
