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
import { NewcomerQueue } from '../../http/server/newcomer-queue.js';
import { decideKeepAlive, hintSeconds } from '../../http/server/keep-alive-decision.js';
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
import { localResponse } from './local-response.js';
import { Http2Front } from './http2-front.js';

/** What a listener needs from its proxy. */
export interface ListenerHost {
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  readonly accessLog: AccessLog;
  readonly readBuffer: Buffer;
  listenerMetrics(listener: string): ListenerMetrics;
  websocket(): { idleTimeoutMs: number; pingIntervalMs: number; pingTimeoutMs: number };
}

export class Listener implements ListenerContext {
  readonly table = new StateTable<Http1State, Http1Connection>('client connection', HTTP1_TRANSITIONS, ['head', 'idle', 'exchange', 'tunnel', 'lingering']);
  readonly metrics: ListenerMetrics;
  readonly newcomers: NewcomerQueue;
  draining = false;
  server!: net.Server;
  rotation: TicketKeyRotation | undefined;
  limits: HeadLimits;
  hintSeconds = 0;
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
    this.hintSeconds = hintSeconds(config.client.idleTimeoutMs, config.client.hintMarginMs);
    const waitMs = config.client.headersTimeoutMs > 0 ? config.client.headersTimeoutMs : 60_000;
    this.newcomers = new NewcomerQueue(host.clock, waitMs, (socket) => this.#refuse(socket));
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

  /** A reload's new settings for this listener (its address cannot change). */
  update(config: ListenerConfig, router: Router<Cluster>): void {
    this.config = config;
    this.router = router;
    this.limits = headLimits({ maxHeaderBytes: config.client.maxHeaderBytes, maxHeaders: config.client.maxHeaders });
    this.hintSeconds = hintSeconds(config.client.idleTimeoutMs, config.client.hintMarginMs);
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
  get readBuffer(): Buffer | undefined {
    return this.config.protocol === 'http' ? this.host.readBuffer : undefined;
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
    const policy = this.config.client;
    return decideKeepAlive(
      { maxRequestsPerConnection: policy.maxRequestsPerConnection, maxConnectionAgeMs: policy.maxConnectionAgeMs },
      { requests, ageMs: this.host.clock.now() - openedAtMs, clientAskedClose: head.connectionClose, draining: this.draining },
    );
  }

  closed(conn: Http1Connection, reason: CloseReason): void {
    this.onClosed?.(conn, reason);
    // A slot is free: serve the longest-held newcomer that is still there.
    for (let socket = this.newcomers.take(); socket !== undefined; socket = this.newcomers.take()) {
      if (socket.destroyed || this.draining) {
        socket.destroy();
        continue;
      }
      this.accept(socket);
      socket.resume();
      break;
    }
  }

  /** Drop every held newcomer (drain, close). */
  dropWaiting(): void {
    for (let socket = this.newcomers.take(); socket !== undefined; socket = this.newcomers.take()) socket.destroy();
  }

  readonly accept = (socket: net.Socket): void => {
    const policy = this.config.client;
    if (this.draining) {
      socket.destroy();
      return;
    }
    if (policy.maxConnections > 0 && this.open + (this.http2?.sessions ?? 0) >= policy.maxConnections) {
      // At the cap: the least recently used idle connection makes room; never a busy one.
      const victim = this.table.list('idle').head;
      if (victim !== undefined) victim.destroy('evicted');
      else if (policy.whenFull === 'pause') {
        // Hold the newcomer unread until a connection closes (to the client, accepting paused),
        // for at most headersTimeoutMs; then it gets the 503 that `reject` gives at once.
        socket.on('error', () => undefined);
        this.newcomers.hold(socket);
        return;
      } else {
        this.#refuse(socket);
        return;
      }
    }
    if (policy.tcpKeepAlive !== null) {
      const k = policy.tcpKeepAlive;
      setTcpKeepAlive(socket, { idleMs: k.idleMs, intervalMs: k.intervalMs, count: k.count, ...(k.userTimeoutMs === null ? {} : { userTimeoutMs: k.userTimeoutMs }) });
    }
    this.metrics.connectionAccepted();
    if (this.http2 !== undefined && (socket as tls.TLSSocket).alpnProtocol === 'h2') this.http2.accept(socket);
    else new Http1Connection(socket, this);
  };

  #refuse(socket: net.Socket): void {
    this.metrics.rejected('ERR_TOO_MANY_CONNECTIONS');
    socket.on('error', () => undefined);
    socket.end(localResponse(503, 'ERR_TOO_MANY_CONNECTIONS', true), 'latin1');
  }
}
