/**
 * The headers the policy puts on a response: the `Keep-Alive` hint on one that keeps its
 * connection, and `Connection: close` on the last one of a draining connection.
 */
import type { ServerResponse } from 'node:http';
import type { Connection } from './connection-table.js';
import { nodeWritesKeepAliveHint, setNodeKeepAliveHint } from './node-internals.js';

/**
 * `Keep-Alive: timeout=N[, max=left]`, on Node's own path where it has one (see
 * node-internals.ts: no header in the response's store, which cost a keyed store and a lower-cased
 * copy per response in the profile); otherwise with `setHeader`. Node's socket timer stays off:
 * it reads `server.keepAliveTimeout` (0 while attached), not these fields.
 *
 * `nodeHint`: whether Node writes it (learnt from the first response, passed back in after).
 * Returns that answer.
 */
export function advertiseKeepAlive(res: ServerResponse, hintSeconds: number, left: number, nodeHint: boolean | undefined): boolean {
  const viaNode = nodeHint ?? nodeWritesKeepAliveHint(res);
  if (viaNode) setNodeKeepAliveHint(res, hintSeconds, left);
  else if (!res.headersSent) res.setHeader('Keep-Alive', left > 0 ? `timeout=${hintSeconds}, max=${left}` : `timeout=${hintSeconds}`);
  return viaNode;
}

/** Draining: only the last response in flight says `Connection: close`, so pipelined requests
 * before it are all answered; one that was marked earlier and not yet sent is unmarked. */
export function closeOnLastResponse(conn: Connection): void {
  const last = conn.inFlight > 0 ? conn.lastRes : undefined;
  if (conn.closeOn !== undefined && conn.closeOn !== last && !conn.closeOn.headersSent) {
    conn.closeOn.removeHeader('Connection');
  }
  if (last !== undefined && !last.headersSent) {
    last.setHeader('Connection', 'close');
    last.removeHeader('Keep-Alive');
    conn.closeOn = last;
  }
}
