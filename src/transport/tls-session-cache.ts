/**
 * Client-side TLS session cache: resume instead of paying for a full handshake.
 *
 * Why: a full handshake costs the server a private-key signature and both sides a key exchange;
 * a resumed one skips the signature and the certificate chain. Node's `tls.connect` caches
 * nothing by itself, and https.Agent's own cache is tied to that agent; this one can serve any
 * dialer (pool, tunnel, proxy upstream).
 *
 * What is stored: the newest session per `servername:port` as Node hands it out, a DER buffer
 * that holds a TLS 1.2 session (with its ticket) or a TLS 1.3 ticket. TLS 1.3 servers send
 * several tickets after the handshake (OpenSSL sends 2); each 'session' event replaces the entry,
 * so the newest wins. After a resumed TLS 1.2 handshake Node emits no 'session' event even when
 * the server renewed the ticket, so the session is re-read with `getSession()` at that point.
 *
 * Invariants:
 * - LRU: `get` marks an entry most recently used; `set` past `maxSessions` evicts the least
 *   recently used one. `maxSessions: 0` stores nothing (a switch to turn resumption off).
 * - A session is dropped when the connection that offered it fails before the handshake ends,
 *   or when the server declined it (full handshake instead of resumption): a stale ticket would
 *   otherwise be offered, and declined, forever (RFC 5077 section 3.2; Go's crypto/tls does the
 *   same). Only the offered session is dropped, and only if it is still the cached one, so a
 *   fresher session stored meanwhile by another connection survives.
 * - The cache holds no sockets and no timers; `close()` only empties it.
 */
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { ClosedError } from '../core/errors.js';
import { integerOption, rejectUnknown } from '../core/options.js';

/** Options for {@link TlsSessionCache}. */
export interface TlsSessionCacheOptions {
  /** Most sessions kept (one per `servername:port`). 0 stores nothing. Default 100, as https.Agent's `maxCachedSessions`. */
  maxSessions?: number;
}

/** Counters, each only ever increasing. */
export interface TlsSessionCacheStats {
  /** `get` (or `connectOptions`/`connect`) found a session. */
  hits: number;
  /** `get` found nothing. */
  misses: number;
  /** Sessions written (new entries and replacements). */
  stored: number;
  /** Entries pushed out by the `maxSessions` bound. */
  evicted: number;
  /** Entries removed because their connection failed or the server declined them. */
  dropped: number;
  /** Handshakes that offered a session and got a full handshake instead. */
  rejected: number;
  /** Tracked handshakes that resumed (`socket.isSessionReused()`). */
  resumed: number;
}

/** TLS connect options plus the host and port the cache keys on. */
export type CachedConnectOptions = ConnectionOptions & { host: string; port: number };

const WHERE = 'TlsSessionCache';

/**
 * An LRU cache of TLS sessions keyed by `servername:port`, with helpers that wire it to sockets.
 *
 * @example
 *   const cache = new TlsSessionCache({ maxSessions: 50 });
 *   const socket = cache.connect({ host: 'example.com', port: 443 }); // resumes when it can
 *
 * @example Lower level, with your own tls.connect call:
 *   const key = TlsSessionCache.key('example.com', 443);
 *   const socket = tls.connect({ host: 'example.com', port: 443, ...cache.connectOptions('example.com', 443) });
 *   cache.track(socket, key);
 */
export class TlsSessionCache {
  readonly maxSessions: number;
  readonly #sessions = new Map<string, Buffer>();
  readonly #stats: TlsSessionCacheStats = { hits: 0, misses: 0, stored: 0, evicted: 0, dropped: 0, rejected: 0, resumed: 0 };
  #closed = false;

  constructor(options?: TlsSessionCacheOptions) {
    const opts = rejectUnknown(WHERE, options, ['maxSessions']);
    this.maxSessions = integerOption(WHERE, opts, 'maxSessions', 100, { min: 0, note: '(0 stores nothing)' });
  }

  /**
   * The cache key for a server name and port. An IP address is its own "servername" (no SNI is sent).
   * @example TlsSessionCache.key('example.com', 443) // 'example.com:443'
   */
  static key(servername: string, port: number): string {
    return `${servername}:${port}`;
  }

  /** Number of sessions held. */
  get size(): number {
    return this.#sessions.size;
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<TlsSessionCacheStats> {
    return { ...this.#stats };
  }

  /**
   * The session for `key`, marked most recently used; counts a hit or a miss.
   * @example const session = cache.get('example.com:443');
   */
  get(key: string): Buffer | undefined {
    const session = this.#sessions.get(key);
    if (session === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    this.#sessions.delete(key);
    this.#sessions.set(key, session);
    this.#stats.hits++;
    return session;
  }

  /**
   * Store `session` for `key` as the most recently used, evicting the least recently used past
   * `maxSessions`. Ignored after `close()` (late 'session' events from open sockets land here).
   * @example socket.on('session', (s) => cache.set('example.com:443', s));
   */
  set(key: string, session: Buffer): void {
    if (this.#closed || this.maxSessions === 0) return;
    this.#sessions.delete(key);
    this.#sessions.set(key, session);
    this.#stats.stored++;
    for (const oldest of this.#sessions.keys()) {
      if (this.#sessions.size <= this.maxSessions) break;
      this.#sessions.delete(oldest);
      this.#stats.evicted++;
    }
  }

  /**
   * Forget the session for `key`. Returns whether there was one. Not counted as `dropped`
   * (that counter is for sessions the cache removed by itself).
   * @example cache.delete('example.com:443');
   */
  delete(key: string): boolean {
    return this.#sessions.delete(key);
  }

  /** Forget every session. @example cache.clear(); */
  clear(): void {
    this.#sessions.clear();
  }

  /**
   * Options to spread into `tls.connect`: `{ session }` when one is cached, else `{}`.
   * `servername` defaults to `host` (as in tls.connect); for an IP host the IP is the key.
   * @example tls.connect({ host, port, ...cache.connectOptions(host, port) })
   */
  connectOptions(host: string, port: number, servername?: string): { session?: Buffer } {
    const session = this.get(TlsSessionCache.key(servername ?? host, port));
    return session === undefined ? {} : { session };
  }

  /**
   * Follow one client socket: store the sessions it receives, count a resumption, and drop the
   * offered session if the connection fails before the handshake ends or the server declines it.
   * Call it right after `tls.connect`. `offered` is the session given to tls.connect (`null`:
   * none); it defaults to the session cached for `key` now, which is the one `connectOptions`
   * just returned if you used it.
   * @example
   *   const socket = tls.connect({ host, port, ...cache.connectOptions(host, port) });
   *   cache.track(socket, TlsSessionCache.key(host, port));
   */
  track(socket: TLSSocket, key: string, offered: Buffer | null = this.#sessions.get(key) ?? null): void {
    let secure = false;
    socket.on('session', (session: Buffer) => this.set(key, session));
    socket.once('secureConnect', () => {
      secure = true;
      if (socket.isSessionReused()) {
        this.#stats.resumed++;
        // TLS 1.2 renews a ticket inside the resumed handshake without a 'session' event.
        if (socket.getProtocol() !== 'TLSv1.3') this.#refresh(key, socket);
      } else if (offered !== null) {
        this.#stats.rejected++;
        this.#drop(key, offered);
      }
    });
    // 'close' with hadError rather than an 'error' listener: listening for 'error' would
    // swallow the error for a caller who has no handler of their own.
    socket.once('close', (hadError: boolean) => {
      if (hadError && !secure && offered !== null) this.#drop(key, offered);
    });
  }

  /**
   * `tls.connect` with the cached session for `options.servername ?? options.host` and
   * `options.port`, tracked as in {@link track}. An explicit `options.session` wins.
   * @example
   *   const socket = cache.connect({ host: '127.0.0.1', port, servername: 'localhost', ca });
   *   socket.once('secureConnect', () => console.log(socket.isSessionReused()));
   */
  connect(options: CachedConnectOptions): TLSSocket {
    if (this.#closed) throw new ClosedError(WHERE);
    const key = TlsSessionCache.key(options.servername ?? options.host, options.port);
    const session = options.session ?? this.get(key);
    const socket = tlsConnect(session === undefined ? options : { ...options, session });
    this.track(socket, key, session ?? null);
    return socket;
  }

  /** Empty the cache; later `set` calls are ignored and `connect` throws ClosedError. @example cache.close(); */
  close(): void {
    this.#closed = true;
    this.#sessions.clear();
  }

  #drop(key: string, offered: Buffer): void {
    if (this.#sessions.get(key) !== offered) return;
    this.#sessions.delete(key);
    this.#stats.dropped++;
  }

  #refresh(key: string, socket: TLSSocket): void {
    const session = socket.getSession();
    const cached = this.#sessions.get(key);
    if (session !== undefined && (cached === undefined || !cached.equals(session))) this.set(key, session);
  }
}
