/**
 * One client-facing listener: its socket server, its connections (one list per state, through a
 * StateTable: `idle` is the LRU the cap evicts from, `lingering` the closed ones waiting for the
 * client's FIN), the connection cap with held newcomers (lifeline/server's NewcomerQueue), and
 * the keep-alive decision each response gets (lifeline/server's policy).
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { StateTable } from '../../core/state-table.js';
import type { CloseReason } from '../../core/close-reason.js';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import type { TicketKeyRotation } from '../../transport/ticket-key-rotation.js';
import { headLimits } from '../../http/wire/index.js';
import type { HeadLimits, RequestHead } from '../../http/wire/index.js';
import { Admission } from '../../http/server/admission.js';
import { decideKeepAlive, keepAlivePolicy } from '../../http/server/keep-alive-decision.js';
import type { KeepAlivePolicy } from '../../http/server/keep-alive-decision.js';
import type { Clock } from '../../core/clock.js';
import type { TimerWheel } from '../../core/timer-wheel.js';
import type { ClientConfig, ListenerConfig } from '../config/index.js';
import type { ListenerMetrics } from '../metrics/index.js';
import type { AccessLog } from './access-log.js';
import type { Router } from './router.js';
import type { Cluster } from './cluster.js';
import { Http1Connection } from './http1-connection.js';
import { HTTP1_TRANSITIONS } from './http1-states.js';
import type { Http1State } from './http1-states.js';
import type { ListenerContext } from './listener-context.js';
import { Http2Front } from './http2-front.js';
import type { BufferPool } from '../../transport/write-batcher.js';

/** What a listener needs from its proxy. */
export interface ListenerHost {
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  readonly accessLog: AccessLog;
  readonly readBuffer: Buffer;
  readonly writePool: BufferPool;
  listenerMetrics(listener: string): ListenerMetrics;
  websocket(): { idleTimeoutMs: number; pingIntervalMs: number; pingTimeoutMs: number };
}

export class Listener implements ListenerContext {
  readonly table = new StateTable<Http1State, Http1Connection>('client connection', HTTP1_TRANSITIONS, ['head', 'idle', 'exchange', 'tunnel', 'lingering']);
  readonly metrics: ListenerMetrics;
  /** The connection cap: evict the LRU idle connection, else hold or refuse (lifeline/server's). */
  admission: Admission;
  draining = false;
  server!: net.Server;
  rotation: TicketKeyRotation | undefined;
  limits: HeadLimits;
  #policy: KeepAlivePolicy;
  /** The HTTP/2 side (ALPN h2, or prior knowledge in clear); undefined when the listener offers none. */
  readonly http2: Http2Front | undefined;
  /** Told of every connection that stops serving (the drain in progress listens). */
  onClosed: ((conn: Http1Connection, reason: CloseReason) => void) | undefined;

  constructor(
    public config: ListenerConfig,
    public router: Router<Cluster>,
    readonly host: ListenerHost,
  ) {
    this.metrics = host.listenerMetrics(config.name);
    this.limits = headLimits({ maxHeaderBytes: config.client.maxHeaderBytes, maxHeaders: config.client.maxHeaders });
    this.#policy = keepAlivePolicy(config.client);
    this.admission = this.#admission(config.client);
    const offersHttp2 = config.protocol === 'https' ? config.http2 : config.http2PriorKnowledge;
    this.http2 = offersHttp2 ? new Http2Front(this, config.client.http2) : undefined;
  }

  get http2PriorKnowledge(): boolean {
    return this.config.protocol === 'http' && this.http2 !== undefined;
  }

  handOffHttp2(socket: net.Socket, read: Buffer): void {
    if (this.http2 === undefined) {
      socket.destroy();
      return;
    }
    if (read.length > 0) socket.unshift(read);
    this.http2.accept(socket);
  }

  #admission(client: ClientConfig): Admission {
    // A newcomer is held at most the headers timeout, as if it were sending a slow head.
    const waitMs = client.headersTimeoutMs > 0 ? client.headersTimeoutMs : 60_000;
    return new Admission(
      { clock: this.host.clock, maxConnections: client.maxConnections, whenFull: client.whenFull, holdMs: waitMs, refuseWaitMs: waitMs },
      {
        open: () => this.open + (this.http2?.sessions ?? 0), // HTTP/2 sessions count against the cap too
        evictOne: () => {
          const victim = this.table.list('idle').head;
          if (victim === undefined) return false;
          victim.destroy('evicted');
          return true;
        },
        admit: (socket) => this.#admit(socket),
        refused: () => this.metrics.rejected('ERR_TOO_MANY_CONNECTIONS'),
      },
    );
  }

  /** A reload's new settings for this listener (its address cannot change). */
  update(config: ListenerConfig, router: Router<Cluster>): void {
    const before = this.config.client;
    this.config = config;
    this.router = router;
    this.limits = headLimits({ maxHeaderBytes: config.client.maxHeaderBytes, maxHeaders: config.client.maxHeaders });
    this.#policy = keepAlivePolicy(config.client);
    if (config.client.maxConnections !== before.maxConnections || config.client.whenFull !== before.whenFull || config.client.headersTimeoutMs !== before.headersTimeoutMs) {
      this.admission.refuseHeld();
      this.admission = this.#admission(config.client);
    }
  }

  /** `Keep-Alive: timeout=` on kept-alive responses, whole seconds (0: none). */
  get hintSeconds(): number {
    return this.#policy.hintSeconds;
  }

  get name(): string {
    return this.config.name;
  }
  get listenerName(): string {
    return this.config.name;
  }
  get protocol(): 'http' | 'https' {
    return this.config.protocol;
  }
  get client(): ClientConfig {
    return this.config.client;
  }
  get wheel(): TimerWheel {
    return this.host.wheel;
  }
  get clock(): Clock {
    return this.host.clock;
  }
  get accessLog(): AccessLog {
    return this.host.accessLog;
  }
  /** Plain and TLS client sockets alike (a TLSSocket's handle takes a user buffer too). */
  get readBuffer(): Buffer | undefined {
    return this.host.readBuffer;
  }
  get writePool(): BufferPool {
    return this.host.writePool;
  }
  get tunnelIdleTimeoutMs(): number {
    return this.host.websocket().idleTimeoutMs;
  }
  get tunnelPing(): { intervalMs: number; timeoutMs: number } {
    const ws = this.host.websocket();
    return { intervalMs: ws.pingIntervalMs, timeoutMs: ws.pingTimeoutMs };
  }
  /** Connections closed by the proxy that still wait for the client's FIN. */
  get lingeringConnections(): { readonly size: number } {
    return this.table.list('lingering');
  }
  /** Connections that serve or may serve requests (not lingering). */
  get open(): number {
    return this.table.size - this.table.count('lingering');
  }

  /** Connections that may still serve, oldest first per state (a snapshot). */
  serving(): Http1Connection[] {
    return this.table.all().filter((c) => c.state !== 'lingering');
  }

  closeAfter(head: RequestHead, requests: number, openedAtMs: number): CloseReason | undefined {
    return decideKeepAlive(this.#policy, { requests, openedAt: openedAtMs, now: this.host.clock.now(), draining: this.draining, clientClose: head.connectionClose }).reason;
  }

  closed(conn: Http1Connection, reason: CloseReason): void {
    this.onClosed?.(conn, reason);
    if (!this.draining) this.admission.admitHeld(); // a slot is free
  }

  /** Drop every held newcomer (drain, close): each gets its 503. */
  dropWaiting(): void {
    this.admission.refuseHeld();
  }

  /** Destroy every held newcomer at once (close(): nothing may stay open). */
  destroyWaiting(): void {
    this.admission.releaseHeld((socket) => socket.destroy());
  }

  readonly accept = (socket: net.Socket): void => {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.admission.accept(socket);
  };

  #admit(socket: net.Socket): void {
    const policy = this.config.client;
    if (policy.tcpKeepAlive !== null) {
      const k = policy.tcpKeepAlive;
      setTcpKeepAlive(socket, { idleMs: k.idleMs, intervalMs: k.intervalMs, count: k.count, ...(k.userTimeoutMs === null ? {} : { userTimeoutMs: k.userTimeoutMs }) });
    }
    this.metrics.connectionAccepted();
    if (this.http2 !== undefined && (socket as tls.TLSSocket).alpnProtocol === 'h2') this.http2.accept(socket);
    else new Http1Connection(socket, this);
  }
}
