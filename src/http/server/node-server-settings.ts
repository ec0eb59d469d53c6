/**
 * Node's own http.Server timers, switched off while the policy owns the connection deadlines, and
 * restored when it detaches.
 *
 * What is set and why: `keepAliveTimeout = 0` (Node arms no socket idle timer and sends no
 * Keep-Alive header of its own: the policy sends its hint), `headersTimeout = 0` and
 * `requestTimeout = 0` (Node's connectionsCheckingInterval sweep then returns at once; the
 * interval itself can only be set at createServer and is left alone), `maxRequestsPerSocket = 0`
 * (Node would answer 503 to pipelined requests past it). `server.timeout` (socket inactivity,
 * default 0) is the caller's and is not touched.
 */
import type { Server } from 'node:http';
import { connectionsCheckingInterval } from './node-internals.js';

type Saved = Pick<Server, 'keepAliveTimeout' | 'headersTimeout' | 'requestTimeout' | 'maxRequestsPerSocket'>;

/** Switch Node's timers off; returns a function that restores them. */
export function switchOffNodeTimers(server: Server): () => void {
  const saved: Saved = {
    keepAliveTimeout: server.keepAliveTimeout,
    headersTimeout: server.headersTimeout,
    requestTimeout: server.requestTimeout,
    maxRequestsPerSocket: server.maxRequestsPerSocket,
  };
  server.keepAliveTimeout = 0;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  return () => void Object.assign(server, saved);
}

/**
 * `http.Server.close()` clears Node's connectionsCheckingInterval, but it also closes every idle
 * connection at once (Node 19+), so drain stops listening with `net.Server`'s close and clears
 * that (unref'd) interval here once drained, if it can find it.
 */
export function stopConnectionsCheck(server: Server): void {
  const interval = connectionsCheckingInterval(server);
  if (interval !== undefined) clearInterval(interval);
}
