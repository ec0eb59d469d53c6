/**
 * TunnelClient: keeps one session to the tunnel server alive, forever, and serves local entry
 * points (SOCKS5, HTTP CONNECT, static forwards) over it.
 *
 * Lifecycle (one place, `#run`): `connecting` -> `connected` -> (session ends) -> `waiting`
 * (jittered, capped exponential backoff) -> `connecting` ... until `close()` -> `closed`.
 * Failures that retrying cannot cure (the server refused the credentials, the certificate is not
 * the pinned one or does not verify) end the loop in `failed` after `maxFatalRetries` retries in a
 * row, with a `fatal` event: a client with a wrong token should say so and stop, not retry forever.
 * Every attempt resolves the server's host name again. The backoff resets only after a session
 * was welcomed (authenticated), so a server that refuses us is not hammered.
 *
 * Entry points outlive sessions: while no session is up, a new local connection waits for one up
 * to `openTimeoutMs`, then gets a general-failure reply. Streams of a session that died are
 * destroyed with it (a TCP stream cannot be resumed on another connection).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import { Backoff } from '../core/backoff.js';
import type { CloseLayer, CloseReason, CloseSide } from '../core/close-reason.js';
import type { Destination, ForwardSpec } from './address.js';
import { AdminServer } from './admin-server.js';
import { ClientSession } from './client-session.js';
import { isFatal } from './errors.js';
import type { OpenResult } from './client-session.js';
import { dialTunnel } from './dial.js';
import { EntryListener } from './entry-listener.js';
import type { EntryKind } from './entry-listener.js';
import { CLIENT_METRICS, family, MetricsRegistry } from './metrics.js';
import type { MetricFamily, MetricSample } from './metrics.js';
import { resolveTunnelClientOptions } from './tunnel-client-options.js';
import type { ResolvedTunnelClientOptions, TunnelClientOptions } from './tunnel-client-options.js';

export type { TunnelClientOptions } from './tunnel-client-options.js';

export type TunnelClientState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'failed' | 'closed';

export interface TunnelClientEvents {
  state: [state: TunnelClientState];
  connected: [info: { sessionId: number; address: string; pingIntervalMs: number; attempt: number }];
  /** A welcomed session ended: why (`closeReason`, lifeline's one vocabulary), who ended it and the layer that noticed. */
  disconnected: [info: { error: Error | undefined; code: string; connectedMs: number; closeReason: CloseReason; side: CloseSide; layer: CloseLayer }];
  dead: [info: { silentMs: number; boundMs: number }];
  connectFailed: [info: { error: Error; code: string; attempt: number }];
  reconnecting: [info: { delayMs: number; attempt: number }];
  /** The loop stopped for good (state `failed`): `attempts` fatal failures in a row. */
  fatal: [info: { error: Error; code: string; attempts: number }];
  notice: [message: string];
  entry: [info: { kind: EntryKind; destination?: string; reply?: number; message: string }];
  warning: [message: string];
}

export interface TunnelClientStatus {
  state: TunnelClientState;
  server: string;
  address: string | null;
  sessionId: number | null;
  rttMs: number | null;
  streams: number;
  bytesSent: number;
  bytesReceived: number;
  reconnects: number;
  attempts: number;
  pingIntervalMs: number;
  /** How the last welcomed session ended; null before one has. */
  lastClose: { closeReason: CloseReason; side: CloseSide; layer: CloseLayer; code: string; agoMs: number } | null;
  entryPoints: { kind: EntryKind; address: string; connections: number }[];
}

/**
 * @example
 *   const client = new TunnelClient({ server: 'vpn.example.com:7000', token, fingerprint });
 *   client.start();
 *   await client.listenSocks('127.0.0.1', 1080);
 *   client.on('dead', ({ silentMs }) => console.log('server silent', silentMs));
 */
export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  readonly host: string;
  readonly port: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly missedPings: number;
  readonly openTimeoutMs: number;
  readonly maxFatalRetries: number;
  readonly #o: ResolvedTunnelClientOptions['session'];
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #entries: EntryListener[] = [];
  #admin: AdminServer | undefined;
  readonly #metrics = new MetricsRegistry(CLIENT_METRICS, () => this.#families());
  #state: TunnelClientState = 'idle';
  #session: ClientSession | undefined;
  #address: string | null = null;
  #sessions = 0;
  #attempts = 0;
  #closedBytesIn = 0;
  #closedBytesOut = 0;
  #lastClose: { closeReason: CloseReason; side: CloseSide; layer: CloseLayer; code: string; atMs: number } | undefined;
  /** Welcomed sessions ended, by `reason` and `layer` (key `reason layer`). */
  readonly #disconnects = new Map<string, number>();
  #waitTimer: TimerHandle | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  readonly #abort = new AbortController();

  constructor(options: TunnelClientOptions) {
    super();
    const r = resolveTunnelClientOptions(options);
    this.host = r.host;
    this.port = r.port;
    this.pingIntervalMs = r.pingIntervalMs;
    this.pingTimeoutMs = r.pingTimeoutMs;
    this.missedPings = r.missedPings;
    this.openTimeoutMs = r.openTimeoutMs;
    this.maxFatalRetries = r.maxFatalRetries;
    this.#backoff = new Backoff({ initialMs: r.reconnectInitialMs, maxMs: r.reconnectMaxMs });
    this.#o = r.session;
    this.#clock = r.clock;
  }

  get state(): TunnelClientState {
    return this.#state;
  }

  /** The dead-server bound: pingIntervalMs + missedPings x pingTimeoutMs. */
  get deadBoundMs(): number {
    const interval = this.#session?.pingIntervalMs ?? this.pingIntervalMs;
    return interval + this.missedPings * this.pingTimeoutMs;
  }

  /** Start the connect/reconnect loop (idempotent). */
  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  /** Resolves when a session is up (or rejects after `timeoutMs`). */
  async waitConnected(timeoutMs = this.openTimeoutMs): Promise<void> {
    if (this.#state === 'connected') return;
    await new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimer(() => {
        this.off('connected', onConnected);
        reject(new Error(`no tunnel session within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = (): void => {
        timer.cancel();
        resolve();
      };
      this.once('connected', onConnected);
    });
  }

  /** Open a stream through the tunnel for `socket`; see ClientSession.open. */
  async openStream(destination: Destination, socket: Socket, accept?: () => void): Promise<OpenResult> {
    if (this.#state !== 'connected') {
      if (this.#isClosed()) return { reply: 1, message: 'client closed' };
      try {
        await this.waitConnected();
      } catch {
        return { reply: 1, message: 'tunnel not connected' };
      }
    }
    const session = this.#session;
    if (session === undefined || socket.destroyed) return { reply: 1, message: 'tunnel not connected' };
    return session.open(destination, socket, accept);
  }

  listenSocks(host: string, port: number): Promise<EntryListener> {
    return this.#listen('socks5', host, port, undefined);
  }

  listenHttpProxy(host: string, port: number): Promise<EntryListener> {
    return this.#listen('http-connect', host, port, undefined);
  }

  forward(spec: ForwardSpec): Promise<EntryListener> {
    return this.#listen('forward', spec.listenHost, spec.listenPort, spec.target);
  }

  /** Serve GET /status and /metrics for this client. */
  async listenAdmin(host: string, port: number): Promise<AdminServer> {
    this.#admin = await AdminServer.listen(host, port, { status: () => this.status(), metrics: () => this.metrics() });
    return this.#admin;
  }

  status(): TunnelClientStatus {
    const s = this.#session;
    const live = s !== undefined && s.state !== 'closed';
    return {
      state: this.#state,
      server: `${this.host}:${this.port}`,
      address: this.#address,
      sessionId: live ? s.sessionId : null,
      rttMs: live ? (s.rttMs ?? null) : null,
      streams: live ? s.mux.streams.size : 0,
      bytesSent: this.#closedBytesOut + (live ? s.mux.bytesOut : 0),
      bytesReceived: this.#closedBytesIn + (live ? s.mux.bytesIn : 0),
      reconnects: Math.max(0, this.#sessions - 1),
      attempts: this.#attempts,
      pingIntervalMs: s?.pingIntervalMs ?? this.pingIntervalMs,
      lastClose: this.#lastClose === undefined ? null : { ...omitAt(this.#lastClose), agoMs: Math.round(this.#clock.now() - this.#lastClose.atMs) },
      entryPoints: this.#entries.map((e) => ({ kind: e.kind, address: `${e.address.host}:${e.address.port}`, connections: e.connections })),
    };
  }

  metrics(): Promise<string> {
    return this.#metrics.text();
  }

  /** The metric families now (CLIENT_METRICS), read by each scrape. */
  #families(): MetricFamily[] {
    const s = this.status();
    const f = (name: string, samples: readonly MetricSample[]): MetricFamily => family(CLIENT_METRICS, name, samples);
    return [
      f('lifeline_tunnel_client_connected', [{ value: s.state === 'connected' ? 1 : 0 }]),
      f('lifeline_tunnel_client_reconnects_total', [{ value: s.reconnects }]),
      f('lifeline_tunnel_client_connect_attempts_total', [{ value: s.attempts }]),
      f('lifeline_tunnel_client_streams', [{ value: s.streams }]),
      f('lifeline_tunnel_client_ping_rtt_seconds', s.rttMs === null ? [] : [{ value: s.rttMs / 1000 }]),
      f('lifeline_tunnel_client_bytes_total', [
        { labels: { direction: 'sent' }, value: s.bytesSent },
        { labels: { direction: 'received' }, value: s.bytesReceived },
      ]),
      f('lifeline_tunnel_client_disconnects_total', [...this.#disconnects].map(([key, value]) => {
        const [reason = '', layer = ''] = key.split(' ');
        return { labels: { reason, layer }, value };
      })),
    ];
  }

  /** Stop reconnecting, end the session, close every entry point and the admin endpoint. */
  async close(): Promise<void> {
    if (this.#isClosed()) return;
    this.#setState('closed');
    this.#abort.abort();
    this.#waitTimer?.cancel();
    this.#wake?.();
    this.#session?.close();
    await Promise.all([...this.#entries.map((e) => e.close()), this.#admin?.close()]);
    await this.#running;
  }

  async #listen(kind: EntryKind, host: string, port: number, target: Destination | undefined): Promise<EntryListener> {
    const entry = await EntryListener.listen({
      kind,
      host,
      port,
      ...(target === undefined ? {} : { target }),
      open: (d, socket, accept) => this.openStream(d, socket, accept),
      handshakeTimeoutMs: this.#o.handshakeTimeoutMs,
      clock: this.#clock,
      onEvent: (e) => this.emit('entry', e),
    });
    this.#entries.push(entry);
    return entry;
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #setState(state: TunnelClientState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    this.emit('state', state);
  }

  async #run(): Promise<void> {
    let fatalInARow = 0;
    while (!this.#isClosed()) {
      this.#setState('connecting');
      this.#attempts += 1;
      const attempt = this.#attempts;
      const sessionsBefore = this.#sessions;
      let failure: Error | undefined;
      try {
        failure = await this.#connectOnce(attempt);
      } catch (error) {
        failure = error as Error;
        if (!this.#isClosed()) this.emit('connectFailed', { error: failure, code: codeOf(failure), attempt });
      }
      if (this.#isClosed()) break;
      // A welcome in between means the credentials worked: a later refusal starts a new count.
      if (this.#sessions > sessionsBefore && (failure === undefined || !isFatal(failure))) fatalInARow = 0;
      else if (failure !== undefined && isFatal(failure)) fatalInARow = this.#sessions > sessionsBefore ? 1 : fatalInARow + 1;
      if (failure !== undefined && fatalInARow > this.maxFatalRetries) {
        this.#setState('failed');
        this.emit('fatal', { error: failure, code: codeOf(failure), attempts: fatalInARow });
        break;
      }
      const delayMs = this.#backoff.next();
      this.#setState('waiting');
      this.emit('reconnecting', { delayMs, attempt: attempt + 1 });
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#waitTimer = this.#clock.setTimer(resolve, delayMs);
      });
      this.#wake = undefined;
    }
  }

  /** One attempt; resolves with the error that ended the session (undefined for a clean close). */
  async #connectOnce(attempt: number): Promise<Error | undefined> {
    const o = this.#o;
    const keepAlive = o.tcpKeepAlive
      ? { idleMs: this.pingIntervalMs, intervalMs: this.pingTimeoutMs, count: this.missedPings, userTimeoutMs: this.pingIntervalMs + this.missedPings * this.pingTimeoutMs }
      : undefined;
    const dialed = await dialTunnel({
      host: this.host,
      port: this.port,
      transport: o.transport,
      wsPath: o.wsPath,
      fingerprint: o.fingerprint,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      servername: o.servername,
      connectTimeoutMs: o.connectTimeoutMs,
      tcpKeepAlive: keepAlive,
      lookup: o.lookup,
      clock: this.#clock,
      signal: this.#abort.signal,
    });
    if (dialed.keepAliveWarning !== undefined) this.emit('warning', dialed.keepAliveWarning);
    if (this.#isClosed()) {
      dialed.transport.destroy();
      return undefined;
    }
    this.#address = dialed.address;
    const session = new ClientSession(dialed.transport, {
      token: o.token,
      certificateAuth: o.cert !== undefined && o.token === undefined,
      name: o.name,
      reconnects: this.#sessions,
      pingIntervalMs: this.pingIntervalMs,
      pingTimeoutMs: this.pingTimeoutMs,
      missedPings: this.missedPings,
      jitter: o.jitter,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      windowBytes: o.windowBytes,
      pipelineOpens: o.pipelineOpens,
      clock: this.#clock,
    });
    this.#session = session;
    session.on('notice', (m) => this.emit('notice', m));
    await session.ready;
    const connectedAt = this.#clock.now();
    this.#sessions += 1;
    this.#backoff.reset();
    this.#setState('connected');
    this.emit('connected', { sessionId: session.sessionId, address: dialed.address, pingIntervalMs: session.pingIntervalMs, attempt });
    const error = await session.closed;
    this.#closedBytesIn += session.mux.bytesIn;
    this.#closedBytesOut += session.mux.bytesOut;
    const code = codeOf(error);
    if (code === 'ERR_TUNNEL_DEAD_PEER') {
      this.emit('dead', { silentMs: (error as { silentMs?: number }).silentMs ?? 0, boundMs: session.pingIntervalMs + this.missedPings * this.pingTimeoutMs });
    }
    if (this.#state !== 'closed') {
      // Set by every path that closes a session; the fallback only guards a future one.
      const info = session.closeInfo ?? { reason: 'error', side: 'remote', layer: 'tunnel' };
      const key = `${info.reason} ${info.layer}`;
      this.#disconnects.set(key, (this.#disconnects.get(key) ?? 0) + 1);
      this.#lastClose = { closeReason: info.reason, side: info.side, layer: info.layer, code, atMs: this.#clock.now() };
      this.emit('disconnected', { error, code, connectedMs: this.#clock.now() - connectedAt, closeReason: info.reason, side: info.side, layer: info.layer });
    }
    return error;
  }
}

function omitAt<T extends { atMs: number }>(record: T): Omit<T, 'atMs'> {
  const { atMs: _atMs, ...rest } = record;
  return rest;
}

function codeOf(error: Error | undefined): string {
  if (error === undefined) return 'closed';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}
