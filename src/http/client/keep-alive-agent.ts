/**
 * KeepAliveAgent: an `http.Agent` that does not lose requests to the keep-alive race.
 *
 * A drop-in wherever Node accepts an agent (`http.request`, axios `httpAgent`, got
 * `agent.http`, node-fetch `agent`). Node's pool hooks are handed to KeepAlivePool, which holds
 * the policy; this class only wires them. Invariant: Node's own `'free'` listener is removed, so
 * every freed socket goes through the pool's checks.
 */
import type { EventEmitter } from 'node:events';
import { Agent } from 'node:http';
import type { ClientRequest, ClientRequestArgs } from 'node:http';
import { createConnection } from 'node:net';
import type { NetConnectOpts, Socket } from 'node:net';
import type { KeepAliveAgentOptions } from './agent-options.js';
import { resolveAgentOptions } from './agent-options.js';
import type { OriginStats } from './agent-stats.js';
import { KeepAlivePool } from './keep-alive-pool.js';
import type { AgentInternals, ConnectOptions } from './node-internals.js';

/**
 * @example
 *   import { KeepAliveAgent } from 'lifeline/agent';
 *   const agent = new KeepAliveAgent({ freeSocketTimeoutMs: 4000 });
 *   http.get('http://127.0.0.1:8080/', { agent }, (res) => res.resume());
 *   console.log(agent.stats()['http://127.0.0.1:8080']);
 *   agent.destroy();
 */
export class KeepAliveAgent extends Agent {
  /** Node's count of this agent's open sockets (all origins). */
  declare readonly totalSocketCount: number;
  readonly #pool: KeepAlivePool;
  readonly #stripNodeKeepAlive: boolean;

  constructor(options?: KeepAliveAgentOptions) {
    const settings = resolveAgentOptions('KeepAliveAgent', options, false);
    super(settings.nodeOptions);
    this.#stripNodeKeepAlive = settings.tcpKeepAlive !== undefined;
    this.removeAllListeners('free');
    this.#pool = new KeepAlivePool(this as unknown as AgentInternals & EventEmitter, settings, 'KeepAliveAgent');
    this.on('free', (socket: Socket) => this.#pool.onFree(socket));
  }

  /** Node hook: give `req` a socket (see KeepAlivePool). */
  addRequest(req: ClientRequest, options: ConnectOptions): void {
    this.#pool.addRequest(req, options);
  }

  /** Node hook: a socket closed or was taken out of the pool. */
  removeSocket(socket: Socket, options: ConnectOptions): void {
    this.#pool.removeSocket(socket, options);
  }

  /** Node hook: open a TCP connection (TCP keepalive applied when configured). */
  override createConnection(options: ClientRequestArgs): Socket {
    const o = options as ConnectOptions;
    const connectOptions = this.#stripNodeKeepAlive ? { ...o, keepAlive: false } : o;
    const socket = createConnection(connectOptions as unknown as NetConnectOpts);
    this.#pool.onCreate(socket, o);
    return socket;
  }

  /**
   * Per-origin counters (`http://host:port` keys): sockets, reuse, stale sockets, retries, closes.
   * @example agent.stats()['http://127.0.0.1:8080']?.retries
   */
  stats(): Record<string, OriginStats> {
    return this.#pool.stats();
  }

  /** Close every socket and fail waiting requests with ClosedError; requests after this fail too. */
  override destroy(): void {
    this.#pool.destroy();
    super.destroy();
  }
}
