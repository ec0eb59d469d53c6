/**
 * HttpsKeepAliveAgent: KeepAliveAgent's policy on an `https.Agent`, with TLS session resumption
 * from lifeline/transport's TlsSessionCache (https.Agent's own cache is switched off so there is
 * one cache, bounded by `maxCachedSessions`, or shared between agents via `tlsSessionCache`).
 */
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import { Agent } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { InvalidOptionError } from '../../core/errors.js';
import { integerOption } from '../../core/options.js';
import { TlsSessionCache } from '../../transport/tls-session-cache.js';
import type { HttpsKeepAliveAgentOptions } from './agent-options.js';
import { resolveAgentOptions } from './agent-options.js';
import type { OriginStats } from './agent-stats.js';
import { KeepAlivePool } from './keep-alive-pool.js';
import type { AgentInternals, ConnectOptions } from './node-internals.js';

const WHERE = 'HttpsKeepAliveAgent';

function sessionCache(options: HttpsKeepAliveAgentOptions | undefined): { cache: TlsSessionCache; owned: boolean } {
  const given: unknown = options?.tlsSessionCache;
  if (given === undefined) {
    const maxSessions = integerOption(WHERE, (options ?? {}) as Record<string, unknown>, 'maxCachedSessions', 100, { min: 0, note: '(0 disables resumption)' });
    return { cache: new TlsSessionCache({ maxSessions }), owned: true };
  }
  if (!(given instanceof TlsSessionCache)) {
    throw new InvalidOptionError(`${WHERE}.tlsSessionCache`, `${WHERE}.tlsSessionCache must be a TlsSessionCache`);
  }
  if (options?.maxCachedSessions !== undefined) {
    throw new InvalidOptionError(`${WHERE}.maxCachedSessions`, `${WHERE}.maxCachedSessions cannot be combined with tlsSessionCache (the cache has its own bound)`);
  }
  return { cache: given, owned: false };
}

/**
 * @example
 *   import { HttpsKeepAliveAgent } from 'lifeline/agent';
 *   const agent = new HttpsKeepAliveAgent({ maxCachedSessions: 50, ca });
 *   https.get('https://localhost:8443/', { agent }, (res) => res.resume());
 *   agent.stats()['https://localhost:8443']?.tlsResumed;
 */
export class HttpsKeepAliveAgent extends Agent {
  /** Node's count of this agent's open sockets (all origins). */
  declare readonly totalSocketCount: number;
  readonly #pool: KeepAlivePool;
  readonly #cache: TlsSessionCache;
  readonly #ownsCache: boolean;
  readonly #stripNodeKeepAlive: boolean;

  constructor(options?: HttpsKeepAliveAgentOptions) {
    const settings = resolveAgentOptions(WHERE, options, true);
    const { cache, owned } = sessionCache(options);
    super({ ...settings.nodeOptions, maxCachedSessions: 0 });
    this.#cache = cache;
    this.#ownsCache = owned;
    this.#stripNodeKeepAlive = settings.tcpKeepAlive !== undefined;
    this.removeAllListeners('free');
    this.#pool = new KeepAlivePool(this as unknown as AgentInternals & EventEmitter, settings, WHERE);
    this.on('free', (socket: Socket) => this.#pool.onFree(socket));
  }

  /** The TLS session cache in use. */
  get tlsSessionCache(): TlsSessionCache {
    return this.#cache;
  }

  /** Node hook: give `req` a socket (see KeepAlivePool). */
  addRequest(req: ClientRequest, options: ConnectOptions): void {
    this.#pool.addRequest(req, options);
  }

  /** Node hook: a socket closed or was taken out of the pool. */
  removeSocket(socket: Socket, options: ConnectOptions): void {
    this.#pool.removeSocket(socket, options);
  }

  /** Node hook: open a TLS connection, offering a cached session. */
  override createConnection(options: RequestOptions): Duplex {
    const o = options as ConnectOptions & { session?: Buffer };
    const host = typeof o.host === 'string' ? o.host : 'localhost';
    const servername = typeof o.servername === 'string' && o.servername !== '' ? o.servername : host;
    const key = TlsSessionCache.key(servername, Number(o.port ?? 443));
    const session = o.session ?? this.#cache.get(key);
    const connectOptions: Record<string, unknown> = { ...o };
    if (session !== undefined) connectOptions.session = session;
    if (this.#stripNodeKeepAlive) connectOptions.keepAlive = false;
    const socket = super.createConnection(connectOptions) as TLSSocket;
    this.#cache.track(socket, key, session ?? null);
    this.#pool.onCreate(socket, o);
    return socket;
  }

  /**
   * Per-origin counters (`https://host:port` keys), including TLS resumptions.
   * @example agent.stats()['https://localhost:8443']?.tlsResumed
   */
  stats(): Record<string, OriginStats> {
    return this.#pool.stats();
  }

  /** Close every socket and fail waiting requests with ClosedError. */
  override destroy(): void {
    this.#pool.destroy();
    super.destroy();
    if (this.#ownsCache) this.#cache.close();
  }
}
