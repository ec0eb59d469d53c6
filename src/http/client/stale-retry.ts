/**
 * StaleRetry: what the pool does when a reused socket dies under a request before the first
 * response byte (the ReuseGuard reports it): re-send the request once on a new connection, or
 * fail it with ERR_STALE_SOCKET. Whether it may be re-sent is the one retry rule's call
 * (`canRetry` in retry-rule.ts, shared with the proxy); this file only gathers the facts and
 * carries the request over.
 *
 * Invariant: a request is re-sent at most once (`maxAttempts` 2), and only the exact bytes the
 * guard recorded are sent again.
 */
import type { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { canRetry } from '../retry-rule.js';
import { channels } from './agent-stats.js';
import type { CloseReason } from './agent-stats.js';
import type { ConnectOptions } from './node-internals.js';
import { requestInternals } from './node-internals.js';
import type { ReuseGuard, StaleSignal } from './reuse-guard.js';
import type { SocketMeta } from './socket-rules.js';
import { StaleSocketError } from './stale-socket-error.js';

/** The first attempt and one re-sent after a stale reused socket. */
const MAX_ATTEMPTS = 2;

/** What StaleRetry needs from the pool. */
export interface StaleRetryHost {
  metaOf(socket: Socket): SocketMeta | undefined;
  destroyed(): boolean;
  close(meta: SocketMeta, reason: CloseReason): void;
  connect(req: ClientRequest, options: ConnectOptions, then: (socket: Socket) => void): void;
}

export class StaleRetry {
  readonly #agent: EventEmitter;
  readonly #host: StaleRetryHost;
  readonly #retried = new WeakSet<ClientRequest>();

  constructor(agent: EventEmitter, host: StaleRetryHost) {
    this.#agent = agent;
    this.#host = host;
  }

  /** Whether `req` is a re-sent request (its second attempt). */
  wasRetried(req: ClientRequest): boolean {
    return this.#retried.has(req);
  }

  /** The ReuseGuard's callback: re-send, or fail with ERR_STALE_SOCKET. */
  readonly onStale = (guard: ReuseGuard, signal: StaleSignal): void => {
    const meta = this.#host.metaOf(guard.socket);
    const r = requestInternals(guard.req);
    if (this.#host.destroyed() || r.destroyed || meta === undefined) {
      guard.passThrough(signal);
      return;
    }
    meta.guard = undefined;
    meta.closeReason ??= 'stale';
    const stats = meta.origin.stats;
    const decision = canRetry({
      method: r.method,
      reusedConnection: true,
      written: guard.bytes > 0,
      replayable: r.finished && !guard.overflow,
      // The guard disarms itself at the first response byte, so it never reports after one.
      responseStarted: false,
      failure: signal.event === 'error' ? 'reset' : 'closed-before-response',
      attempts: this.#retried.has(guard.req) ? MAX_ATTEMPTS : 1,
      maxAttempts: MAX_ATTEMPTS,
    });
    const publish = (action: 'retried' | 'failed'): void => {
      if (!channels.stale.hasSubscribers) return;
      channels.stale.publish({
        agent: this.#agent, origin: stats.origin, socket: guard.socket, phase: 'before-response', action, method: r.method, cause: signal.error,
      });
    };
    if (decision.retry) {
      stats.retries++;
      publish('retried');
      this.#retried.add(guard.req);
      // A timeout the caller set on the request (req.setTimeout) lives on the socket: carry it over.
      const timeoutMs = guard.socket.timeout ?? 0;
      const timeoutCb = r.timeoutCb;
      guard.detach();
      meta.req = undefined;
      guard.passThrough(signal);
      this.#host.close(meta, 'stale');
      r.socket = null;
      r.parser = null;
      r.reusedSocket = false;
      guard.replayInto(r);
      this.#host.connect(guard.req, meta.options, (socket) => {
        if (typeof timeoutCb === 'function') socket.once('timeout', timeoutCb as () => void);
        if (timeoutMs > 0) socket.setTimeout(timeoutMs);
      });
      return;
    }
    stats.staleErrors++;
    publish('failed');
    const why = signal.event === 'error' ? (signal.error?.message ?? 'error') : 'connection closed by the server';
    guard.emitError(new StaleSocketError(r.method, guard.bytes, why, signal.error));
    if (signal.event === 'close') guard.passThrough(signal);
  };
}
