/**
 * TunnelServer: accepts tunnel clients over TLS 1.3 (or WebSocket over TLS) and opens connections
 * to allowed destinations on their behalf.
 *
 * Why and invariants:
 * - It refuses to start as an open relay: with no allowlist rule it throws unless `allowAny` is
 *   set explicitly. It refuses to start with no way to authenticate (no token, no client CA).
 * - Each client is one `ServerSession`; bad data from one closes that one only.
 * - Limits: `maxClients` sessions (the next gets GOAWAY ERR_TUNNEL_LIMIT), `maxStreamsPerClient`
 *   (OPEN_FAIL), `streamIdleTimeoutMs` (RST) on one timer wheel for all streams.
 * - TCP keepalive and TCP_USER_TIMEOUT are set on every accepted socket as a second line behind
 *   `clientTimeoutMs`: they end a connection whose peer's kernel stopped answering.
 * - `close()` ends every session and stream socket and resolves when the listener is closed.
 */
import { EventEmitter } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { promises as dns } from 'node:dns';
import type { Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import type { CloseInfo, CloseLayer, CloseReason } from '../core/close-reason.js';
import { booleanOption, clockOption, enumOption, functionOption, integerOption, rejectUnknown } from '../core/options.js';
import { MAX_WHEEL_TIMEOUT_MS, TimerWheel } from '../core/timer-wheel.js';
import { setTcpKeepAlive } from '../transport/tcp-keepalive.js';
import { Allowlist } from './allowlist.js';
import type { Lookup } from './allowlist.js';
import { TunnelError } from './errors.js';
import { MAX_DATA_PAYLOAD, encodeGoaway } from './frame.js';
import { countSamples, family, MetricsRegistry, SERVER_METRICS } from './metrics.js';
import type { MetricFamily, MetricSample } from './metrics.js';
import { ServerSession } from './server-session.js';
import type { ServerCloseReason, ServerSessionStatus } from './server-session.js';
import { SessionBuffers, TlsTransport, WsTransport } from './transport.js';
import type { FrameTransport } from './transport.js';

export interface TunnelServerOptions {
  /** Address to listen on. Default `0.0.0.0`. */
  host?: string;
  /** Port to listen on (0 = any free port). Default 0. */
  port?: number;
  /** PEM private key and certificate of the server. */
  key: string | Buffer;
  cert: string | Buffer;
  /** Shared secrets clients prove knowledge of by HMAC (challenge-response). */
  tokens?: readonly string[];
  /** PEM CA bundle: clients with a certificate it signed may authenticate without a token. */
  clientCa?: string | Buffer;
  /** Destination allowlist rules (see allowlist.ts). Required unless `allowAny`. */
  allow?: readonly string[];
  /** Allow every destination (an open relay). Default false. */
  allowAny?: boolean;
  /** `tls` (TLS 1.3 over TCP) or `wss` (WebSocket over TLS). Default `tls`. */
  transport?: 'tls' | 'wss';
  /** URL path of the WebSocket endpoint (wss only). Default `/lifeline-tunnel`. */
  wsPath?: string;
  /** The ping interval the server announces to clients, ms. Default 25000. */
  pingIntervalMs?: number;
  /** Drop a session that sends nothing for this long, ms (> pingIntervalMs). Default 75000. */
  clientTimeoutMs?: number;
  /** Pings closer together than this beyond a burst of 10 are limited, ms. Default pingIntervalMs / 25. */
  minPingIntervalMs?: number;
  /** Time from accept to a valid AUTH, ms. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Time to resolve and connect to a destination, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Sessions at once (including handshaking). Default 1000. */
  maxClients?: number;
  /** Streams per session at once. Default 1024. */
  maxStreamsPerClient?: number;
  /** Reset a stream idle (no bytes either way) this long, ms; 0 = never. Default 900000 (15 min). */
  streamIdleTimeoutMs?: number;
  /** Receive window per stream, bytes (16384..16777216). Default 1048576 (1 MiB, as OpenSSH's 2 MiB channel window: a single stream needs window >= bandwidth x delay). */
  windowBytes?: number;
  /** Set TCP keepalive and TCP_USER_TIMEOUT on accepted sockets. Default true. */
  tcpKeepAlive?: boolean;
  /** Name resolution for allowlist CIDR checks. Default dns.lookup (first address). */
  lookup?: Lookup;
  clock?: Clock;
}

export interface TunnelServerEvents {
  listening: [address: { host: string; port: number }];
  session: [session: ServerSession];
  /** `info`: the reason again with its side and the layer that noticed. */
  sessionClose: [session: ServerSession, reason: ServerCloseReason, error: Error | undefined, info: CloseInfo];
  warning: [message: string];
}

export interface TunnelServerStatus {
  listening: { host: string; port: number } | null;
  transport: 'tls' | 'wss';
  pingIntervalMs: number;
  clientTimeoutMs: number;
  sessions: ServerSessionStatus[];
  totals: { sessionsOpened: number; streamsOpened: number; bytesFromClients: number; bytesToClients: number; closes: Record<string, number>; closesByLayer: Record<string, Record<string, number>>; streamsRefused: Record<string, number> };
}

const KNOWN = [
  'host', 'port', 'key', 'cert', 'tokens', 'clientCa', 'allow', 'allowAny', 'transport', 'wsPath', 'pingIntervalMs', 'clientTimeoutMs',
  'minPingIntervalMs', 'handshakeTimeoutMs', 'connectTimeoutMs', 'maxClients', 'maxStreamsPerClient', 'streamIdleTimeoutMs', 'windowBytes',
  'tcpKeepAlive', 'lookup', 'clock',
];
const MAX_MS = 2 ** 31 - 1;
const W = 'TunnelServer';

const defaultLookup: Lookup = async (host) => (await dns.lookup(host)).address;

/**
 * @example
 *   const server = new TunnelServer({ port: 7000, key, cert, tokens: [token], allow: ['*.internal:*'] });
 *   await server.listen();
 *   server.on('sessionClose', (s, reason) => console.log(s.id, reason));
 */
export class TunnelServer extends EventEmitter<TunnelServerEvents> {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tls' | 'wss';
  readonly wsPath: string;
  readonly pingIntervalMs: number;
  readonly clientTimeoutMs: number;
  readonly minPingIntervalMs: number;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxClients: number;
  readonly maxStreamsPerClient: number;
  readonly streamIdleTimeoutMs: number;
  readonly windowBytes: number;
  readonly allowlist: Allowlist;
  readonly sessions = new Map<number, ServerSession>();
  readonly #tokens: readonly string[];
  readonly #certAuth: boolean;
  readonly #tcpKeepAlive: boolean;
  readonly #lookup: Lookup;
  readonly #clock: Clock;
  readonly #wheel: TimerWheel;
  readonly #server: TlsServer | HttpsServer;
  readonly #wss: WebSocketServer | undefined;
  readonly #raw = new Set<Socket>();
  /** Buffers the sessions share: TLS reads land in one (one at a time), batches are pooled. */
  readonly #buffers = new SessionBuffers();
  #nextId = 1;
  #address: { host: string; port: number } | null = null;
  #closed = false;
  /** Sessions ended, by close reason; and by layer then reason (the metric's labels). */
  readonly #closes = new Map<string, number>();
  readonly #closesByLayer = new Map<CloseLayer, Map<CloseReason, number>>();
  readonly #refused = new Map<string, number>();
  readonly #metrics = new MetricsRegistry(SERVER_METRICS, () => this.#families());
  #sessionsOpened = 0;
  #streamsOpened = 0;
  #closedBytesIn = 0;
  #closedBytesOut = 0;
  #keepAliveWarned = false;

  constructor(options: TunnelServerOptions) {
    super();
    const o = rejectUnknown(W, options, KNOWN);
    this.host = typeof o.host === 'string' ? o.host : '0.0.0.0';
    this.port = integerOption(W, o, 'port', 0, { min: 0, max: 65_535 });
    this.transport = enumOption(W, o, 'transport', 'tls', ['tls', 'wss'] as const);
    this.wsPath = typeof o.wsPath === 'string' ? o.wsPath : '/lifeline-tunnel';
    this.pingIntervalMs = integerOption(W, o, 'pingIntervalMs', 25_000, { min: 10, max: MAX_MS });
    this.clientTimeoutMs = integerOption(W, o, 'clientTimeoutMs', Math.max(75_000, this.pingIntervalMs * 3), {
      min: this.pingIntervalMs + 1,
      max: MAX_MS,
      note: '(more than pingIntervalMs)',
    });
    this.minPingIntervalMs = integerOption(W, o, 'minPingIntervalMs', Math.max(1, Math.floor(this.pingIntervalMs / 25)), { min: 1, max: this.pingIntervalMs, note: '(at most pingIntervalMs)' });
    this.handshakeTimeoutMs = integerOption(W, o, 'handshakeTimeoutMs', 10_000, { min: 1, max: MAX_MS });
    this.connectTimeoutMs = integerOption(W, o, 'connectTimeoutMs', 10_000, { min: 1, max: MAX_MS });
    this.maxClients = integerOption(W, o, 'maxClients', 1000, { min: 1, max: 1_000_000 });
    this.maxStreamsPerClient = integerOption(W, o, 'maxStreamsPerClient', 1024, { min: 1, max: 1_000_000 });
    this.streamIdleTimeoutMs = integerOption(W, o, 'streamIdleTimeoutMs', 900_000, { min: 0, max: MAX_WHEEL_TIMEOUT_MS, note: '(0 = never)' });
    this.windowBytes = integerOption(W, o, 'windowBytes', 1_048_576, { min: 16_384, max: 16_777_216 });
    this.#tcpKeepAlive = booleanOption(W, o, 'tcpKeepAlive', true);
    this.#lookup = functionOption<Lookup>(W, o, 'lookup') ?? defaultLookup;
    this.#clock = clockOption(W, o);
    const allowAny = booleanOption(W, o, 'allowAny', false);
    const allow = o.allow;
    if (allow !== undefined && (!Array.isArray(allow) || !allow.every((r) => typeof r === 'string'))) throw new InvalidOptionError(`${W}.allow`, `${W}.allow must be an array of rule strings`);
    const rules: string[] = allow ?? [];
    if (allowAny && rules.length > 0) throw new InvalidOptionError(`${W}.allowAny`, `${W}.allowAny and ${W}.allow exclude each other`);
    if (!allowAny && rules.length === 0) {
      throw new InvalidOptionError(`${W}.allow`, `${W}.allow is empty: refusing to start an open relay; give allowlist rules (e.g. '*.internal:443') or allowAny: true`);
    }
    this.allowlist = allowAny ? Allowlist.allowAny() : Allowlist.parse(rules, `${W}.allow`);
    const tokens = o.tokens;
    if (tokens !== undefined && (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string' && t.length >= 16))) {
      throw new InvalidOptionError(`${W}.tokens`, `${W}.tokens must be an array of strings of at least 16 characters`);
    }
    this.#tokens = (tokens ?? []) as string[];
    const clientCa = o.clientCa as string | Buffer | undefined;
    this.#certAuth = clientCa !== undefined;
    if (this.#tokens.length === 0 && !this.#certAuth) throw new InvalidOptionError(`${W}.tokens`, `${W} needs tokens or clientCa: refusing to accept unauthenticated clients`);
    for (const name of ['key', 'cert'] as const) {
      const v = o[name];
      if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw new InvalidOptionError(`${W}.${name}`, `${W}.${name} is required: PEM text or a Buffer`);
    }
    this.#wheel = new TimerWheel({ resolutionMs: 100, clock: this.#clock });
    const tlsOptions = {
      key: o.key as string | Buffer,
      cert: o.cert as string | Buffer,
      minVersion: 'TLSv1.3' as const,
      // AES-128-GCM first: as strong as needed for a session key and ~25 % cheaper than AES-256.
      ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
      honorCipherOrder: true,
      ...(clientCa === undefined ? {} : { ca: clientCa, requestCert: true, rejectUnauthorized: false }),
    };
    if (this.transport === 'tls') {
      const server = createTlsServer(tlsOptions, (socket) => this.#accept(new TlsTransport(socket, undefined, this.#buffers)));
      server.on('tlsClientError', () => undefined);
      this.#server = server;
      this.#wss = undefined;
    } else {
      const server = createHttpsServer(tlsOptions, (_req, res) => res.writeHead(404).end('lifeline tunnel\n'));
      server.on('tlsClientError', () => undefined);
      const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_DATA_PAYLOAD * 4 });
      server.on('upgrade', (req, socket, head) => {
        if ((req.url ?? '').split('?')[0] !== this.wsPath) {
          socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => this.#accept(new WsTransport(ws, socket as TLSSocket)));
      });
      this.#server = server;
      this.#wss = wss;
    }
    this.#server.on('connection', (raw: Socket) => this.#onRawConnection(raw));
  }

  /** Listening address, or null before `listen()`. */
  get address(): { host: string; port: number } | null {
    return this.#address;
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.port, this.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new TunnelError('ERR_TUNNEL_LISTEN', 'no TCP address');
    this.#address = { host: a.address, port: a.port };
    this.emit('listening', this.#address);
    return this.#address;
  }

  status(): TunnelServerStatus {
    const sessions = [...this.sessions.values()].map((s) => s.status());
    return {
      listening: this.#address,
      transport: this.transport,
      pingIntervalMs: this.pingIntervalMs,
      clientTimeoutMs: this.clientTimeoutMs,
      sessions,
      totals: {
        sessionsOpened: this.#sessionsOpened,
        streamsOpened: this.#streamsOpened,
        bytesFromClients: this.#closedBytesIn + sessions.reduce((n, s) => n + s.bytesFromClient, 0),
        bytesToClients: this.#closedBytesOut + sessions.reduce((n, s) => n + s.bytesToClient, 0),
        closes: Object.fromEntries(this.#closes),
        closesByLayer: Object.fromEntries([...this.#closesByLayer].map(([layer, byReason]) => [layer, Object.fromEntries(byReason)])),
        streamsRefused: Object.fromEntries(this.#refused),
      },
    };
  }

  /** Prometheus text for the admin endpoint's /metrics. */
  metrics(): Promise<string> {
    return this.#metrics.text();
  }

  /** The metric families now (SERVER_METRICS), read by each scrape. */
  #families(): MetricFamily[] {
    const s = this.status();
    const open = s.sessions.filter((x) => x.state === 'open');
    const f = (name: string, samples: readonly MetricSample[]): MetricFamily => family(SERVER_METRICS, name, samples);
    return [
      f('lifeline_tunnel_sessions', [{ value: open.length }]),
      f('lifeline_tunnel_streams', [{ value: s.sessions.reduce((n, x) => n + x.streams, 0) }]),
      f('lifeline_tunnel_sessions_opened_total', [{ value: s.totals.sessionsOpened }]),
      f('lifeline_tunnel_session_closes_total', [...this.#closesByLayer].flatMap(([layer, byReason]) => [...byReason].map(([reason, value]) => ({ labels: { reason, layer }, value })))),
      f('lifeline_tunnel_streams_opened_total', [{ value: s.totals.streamsOpened }]),
      f('lifeline_tunnel_streams_refused_total', countSamples('reason', this.#refused)),
      f('lifeline_tunnel_bytes_total', [
        { labels: { direction: 'from_client' }, value: s.totals.bytesFromClients },
        { labels: { direction: 'to_client' }, value: s.totals.bytesToClients },
      ]),
      f('lifeline_tunnel_ping_rtt_seconds', open.filter((x) => x.rttMs !== null).map((x) => ({ labels: { session: String(x.id), name: x.name }, value: (x.rttMs ?? 0) / 1000 }))),
      f('lifeline_tunnel_pings_limited_total', [{ value: s.sessions.reduce((n, x) => n + x.pingsLimited, 0) }]),
    ];
  }

  /** Stop listening and end every session; resolves when the listener has closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of [...this.sessions.values()]) session.close('shutdown');
    for (const raw of this.#raw) raw.destroy();
    this.#wss?.close();
    this.#wheel.close();
    this.#buffers.clear();
    await closed;
  }

  #onRawConnection(raw: Socket): void {
    this.#raw.add(raw);
    raw.once('close', () => this.#raw.delete(raw));
    raw.setNoDelay(true);
    if (!this.#tcpKeepAlive) return;
    try {
      const interval = Math.max(1, Math.ceil((this.clientTimeoutMs - this.pingIntervalMs) / 3));
      setTcpKeepAlive(raw, { idleMs: this.pingIntervalMs, intervalMs: interval, count: 3, userTimeoutMs: this.clientTimeoutMs });
    } catch (error) {
      if (!this.#keepAliveWarned) {
        this.#keepAliveWarned = true;
        this.emit('warning', `TCP keepalive not set: ${(error as Error).message}`);
      }
    }
  }

  #accept(transport: FrameTransport): void {
    if (this.#closed) {
      transport.destroy();
      return;
    }
    if (this.sessions.size >= this.maxClients) {
      transport.write(encodeGoaway('ERR_TUNNEL_LIMIT', `too many clients (max ${this.maxClients})`));
      transport.end();
      this.#countClose('rejected', 'tunnel');
      return;
    }
    const session = new ServerSession(transport, {
      id: this.#nextId++,
      tokens: this.#tokens,
      certificateAuth: this.#certAuth,
      allowlist: this.allowlist,
      lookup: this.#lookup,
      pingIntervalMs: this.pingIntervalMs,
      clientTimeoutMs: this.clientTimeoutMs,
      minPingIntervalMs: this.minPingIntervalMs,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      connectTimeoutMs: this.connectTimeoutMs,
      maxStreams: this.maxStreamsPerClient,
      windowBytes: this.windowBytes,
      maxDataPayload: MAX_DATA_PAYLOAD,
      streamIdleTimeoutMs: this.streamIdleTimeoutMs,
      wheel: this.#wheel,
      clock: this.#clock,
      deliveryPool: this.#buffers.deliveries,
    });
    this.sessions.set(session.id, session);
    session.on('open', () => {
      this.#sessionsOpened += 1;
      this.emit('session', session);
    });
    session.on('stream', (event, _d, detail) => {
      if (event === 'open') this.#streamsOpened += 1;
      else this.#count(this.#refused, detail);
    });
    session.on('close', (reason, error, info) => {
      this.sessions.delete(session.id);
      this.#closedBytesIn += session.mux.bytesIn;
      this.#closedBytesOut += session.mux.bytesOut;
      this.#countClose(reason, info.layer);
      this.emit('sessionClose', session, reason, error, info);
    });
  }

  #countClose(reason: CloseReason, layer: CloseLayer): void {
    this.#count(this.#closes, reason);
    let byReason = this.#closesByLayer.get(layer);
    if (byReason === undefined) {
      byReason = new Map();
      this.#closesByLayer.set(layer, byReason);
    }
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }

  #count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}
