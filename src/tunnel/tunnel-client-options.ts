/**
 * The TunnelClient's options: what each means, its default and its range, checked once at
 * construction so a bad value fails with the option's name before anything is dialled.
 */
import type { Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import { booleanOption, clockOption, enumOption, functionOption, integerOption, numberOption, rejectUnknown } from '../core/options.js';
import { parseHostPort } from './address.js';
import { normalizeFingerprint } from './auth.js';
import { defaultClientLookup } from './dial.js';

export interface TunnelClientOptions {
  /** `HOST:PORT` of the tunnel server. */
  server: string;
  /** Token for challenge-response authentication. */
  token?: string;
  /** PEM client certificate and key: authenticate with the certificate (no token needed). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Pin the server certificate by SHA-256 fingerprint (hex, colons optional). */
  fingerprint?: string;
  /** PEM CA bundle to verify the server with (when not pinning). Default: system CAs. */
  ca?: string | Buffer;
  /** TLS server name (SNI and certificate check). Default: the host of `server` if a name. */
  servername?: string;
  /** `tls` or `wss`. Default `tls`. */
  transport?: 'tls' | 'wss';
  wsPath?: string;
  /** Name shown in the server's status. Default `lifeline-client`. */
  name?: string;
  /** Ping after this much silence, ms (the server's announced interval wins if smaller). Default 25000. */
  pingIntervalMs?: number;
  /** Reply timeout of each ping, ms. Default 10000. */
  pingTimeoutMs?: number;
  /** Unanswered pings in a row that make the server dead. Default 3. */
  missedPings?: number;
  /** Share of the ping interval randomly cut, 0..1, so clients do not ping in lockstep. Default 0.1. */
  pingJitter?: number;
  /** Reconnect backoff: first ceiling and cap, ms. Defaults 200 and 30000. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** Resolve + TCP + TLS (+ WebSocket upgrade), ms. Default 10000. */
  connectTimeoutMs?: number;
  /** From TLS up to the server's WELCOME, ms. Default 10000. */
  handshakeTimeoutMs?: number;
  /** How long a local connection waits for a session, ms. Default 10000. */
  openTimeoutMs?: number;
  /** Receive window per stream, bytes. Default 1048576 (1 MiB, as OpenSSH's 2 MiB channel window: a single stream needs window >= bandwidth x delay). */
  windowBytes?: number;
  /** TCP keepalive and TCP_USER_TIMEOUT on the tunnel socket. Default true. */
  tcpKeepAlive?: boolean;
  /**
   * Pipeline opens to a destination the server already opened in this session: the local client
   * is answered at once and its first bytes follow the OPEN, saving a tunnel round trip (as
   * ssh -D does). If such an open fails after all, the local connection is closed instead of
   * getting a SOCKS error code. First opens always wait for the server. Default true.
   */
  pipelineOpens?: boolean;
  /**
   * Retries, in a row, after a fatal failure (auth refused, fingerprint mismatch, certificate
   * invalid) before the client stops with a `fatal` event. `Infinity` keeps trying. Default 2.
   */
  maxFatalRetries?: number;
  lookup?: (host: string) => Promise<string>;
  clock?: Clock;
}

/** The options checked and defaulted; `session` is what each connection attempt uses. */
export interface ResolvedTunnelClientOptions {
  host: string;
  port: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  missedPings: number;
  openTimeoutMs: number;
  maxFatalRetries: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  clock: Clock;
  session: {
    token: string | undefined; cert: string | Buffer | undefined; key: string | Buffer | undefined; fingerprint: string | undefined; ca: string | Buffer | undefined;
    servername: string | undefined; transport: 'tls' | 'wss'; wsPath: string; name: string; jitter: number; connectTimeoutMs: number; handshakeTimeoutMs: number;
    windowBytes: number; tcpKeepAlive: boolean; pipelineOpens: boolean; lookup: (host: string) => Promise<string>;
  };
}

const KNOWN = [
  'server', 'token', 'cert', 'key', 'fingerprint', 'ca', 'servername', 'transport', 'wsPath', 'name', 'pingIntervalMs', 'pingTimeoutMs', 'missedPings',
  'pingJitter', 'reconnectInitialMs', 'reconnectMaxMs', 'connectTimeoutMs', 'handshakeTimeoutMs', 'openTimeoutMs', 'windowBytes', 'tcpKeepAlive', 'pipelineOpens', 'lookup', 'clock',
  'maxFatalRetries',
];
const W = 'TunnelClient';
const MAX_MS = 2 ** 31 - 1;

/** Check every option (throws InvalidOptionError naming the first bad one) and fill the defaults. */
export function resolveTunnelClientOptions(options: TunnelClientOptions): ResolvedTunnelClientOptions {
  const o = rejectUnknown(W, options, KNOWN);
  if (typeof o.server !== 'string') throw new InvalidOptionError(`${W}.server`, `${W}.server is required: HOST:PORT`);
  const hp = parseHostPort(`${W}.server`, o.server);
  if (hp.port === 0) throw new InvalidOptionError(`${W}.server`, `${W}.server port must be 1..65535`);
  const pingIntervalMs = integerOption(W, o, 'pingIntervalMs', 25_000, { min: 10, max: MAX_MS });
  const pingTimeoutMs = integerOption(W, o, 'pingTimeoutMs', 10_000, { min: 1, max: MAX_MS });
  const missedPings = integerOption(W, o, 'missedPings', 3, { min: 1, max: 100 });
  const openTimeoutMs = integerOption(W, o, 'openTimeoutMs', 10_000, { min: 0, max: MAX_MS });
  const maxFatalRetries = o.maxFatalRetries === Infinity ? Infinity : integerOption(W, o, 'maxFatalRetries', 2, { min: 0, max: 1_000_000, note: '(or Infinity)' });
  const reconnectInitialMs = integerOption(W, o, 'reconnectInitialMs', 200, { min: 1, max: MAX_MS });
  const reconnectMaxMs = integerOption(W, o, 'reconnectMaxMs', Math.max(30_000, reconnectInitialMs), { min: reconnectInitialMs, max: MAX_MS, note: '(at least reconnectInitialMs)' });
  const str = (name: string): string | undefined => {
    const v = o[name];
    if (v !== undefined && typeof v !== 'string') throw new InvalidOptionError(`${W}.${name}`, `${W}.${name} must be a string`);
    return v;
  };
  const pem = (name: string): string | Buffer | undefined => {
    const v = o[name];
    if (v !== undefined && typeof v !== 'string' && !Buffer.isBuffer(v)) throw new InvalidOptionError(`${W}.${name}`, `${W}.${name} must be PEM text or a Buffer`);
    return v;
  };
  const token = str('token');
  const cert = pem('cert');
  const key = pem('key');
  if ((cert === undefined) !== (key === undefined)) throw new InvalidOptionError(`${W}.cert`, `${W}.cert and ${W}.key go together`);
  if (token === undefined && cert === undefined) throw new InvalidOptionError(`${W}.token`, `${W} needs a token or a client certificate (cert and key)`);
  const fp = str('fingerprint');
  const session = {
    token,
    cert,
    key,
    fingerprint: fp === undefined ? undefined : normalizeFingerprint(`${W}.fingerprint`, fp),
    ca: pem('ca'),
    servername: str('servername'),
    transport: enumOption(W, o, 'transport', 'tls', ['tls', 'wss'] as const),
    wsPath: str('wsPath') ?? '/lifeline-tunnel',
    name: str('name') ?? 'lifeline-client',
    jitter: numberOption(W, o, 'pingJitter', 0.1, { min: 0, max: 1 }),
    connectTimeoutMs: integerOption(W, o, 'connectTimeoutMs', 10_000, { min: 1, max: MAX_MS }),
    handshakeTimeoutMs: integerOption(W, o, 'handshakeTimeoutMs', 10_000, { min: 1, max: MAX_MS }),
    windowBytes: integerOption(W, o, 'windowBytes', 1_048_576, { min: 16_384, max: 16_777_216 }),
    tcpKeepAlive: booleanOption(W, o, 'tcpKeepAlive', true),
    pipelineOpens: booleanOption(W, o, 'pipelineOpens', true),
    lookup: functionOption<(host: string) => Promise<string>>(W, o, 'lookup') ?? defaultClientLookup,
  };
  return { host: hp.host, port: hp.port, pingIntervalMs, pingTimeoutMs, missedPings, openTimeoutMs, maxFatalRetries, reconnectInitialMs, reconnectMaxMs, clock: clockOption(W, o), session };
}
