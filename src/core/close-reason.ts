/**
 * Why a connection (or session, or stream carrier) ended: one vocabulary, in one casing
 * (snake_case, as Prometheus labels and Envoy's counters are), for every layer of lifeline: the
 * agent, the server policy, the proxy on both sides and the tunnel. Each part counts the subset
 * it can produce; stats keys, metric labels, log fields and the docs all use these names.
 *
 * `side` says who ended it: `local` when this process decided (a timer, a limit, a drain, bad
 * bytes from the peer), `remote` when the peer or the network did (FIN, RST, an expired TCP
 * keepalive, a TLS alert). A normal close is a reason, not an error.
 */

export type CloseSide = 'local' | 'remote';

/**
 * The layer that noticed the end: `tcp` (FIN, RST, keepalive or TCP_USER_TIMEOUT expiry), `tls`
 * (an alert, a failed handshake), `http1` (a request's or connection's limits and timeouts on an
 * HTTP/1.1 connection), `http2` (a session's PING, flood and GOAWAY), `websocket` (its ping and
 * close frames), `tunnel` (the tunnel's own frames: heartbeat, GOAWAY, AUTH), `pool` (a client
 * pool's decisions about an idle connection it holds: idle and hint expiry, eviction, a stale
 * connection found before reuse). Why `pool` apart from `http1`: the same `idle_timeout` means a
 * served client left quiet (server side, `http1`) or a connection we chose not to keep (client
 * side, `pool`); an operator tunes different settings for each.
 */
export type CloseLayer = 'tcp' | 'tls' | 'http1' | 'http2' | 'websocket' | 'tunnel' | 'pool';

/** Every layer, in the order of the stack (bottom first). */
export const CLOSE_LAYERS: readonly CloseLayer[] = ['tcp', 'tls', 'http1', 'http2', 'websocket', 'tunnel', 'pool'];

/** Why one connection ended, who ended it and the layer that noticed: what events and logs carry. */
export interface CloseInfo {
  readonly reason: CloseReason;
  readonly side: CloseSide;
  readonly layer: CloseLayer;
}

interface ReasonInfo {
  readonly side: CloseSide;
  readonly meaning: string;
}

/** Every close reason, its side and what it means (docs/errors.md lists the same, checked by a test). */
export const CLOSE_REASONS = {
  idle_timeout: { side: 'local', meaning: 'idle for longer than our idle timeout' },
  hint_expiry: { side: 'local', meaning: "idle past the peer's Keep-Alive: timeout hint less the margin: closed before the peer could" },
  max_requests: { side: 'local', meaning: 'served its maximum number of requests (our limit, or the peer\'s Keep-Alive: max)' },
  max_age: { side: 'local', meaning: 'older than the maximum connection age' },
  evicted: { side: 'local', meaning: 'closed while idle to make room under a connection cap (least recently used first)' },
  rejected: { side: 'local', meaning: 'a newcomer at the connection cap with nothing idle to evict: answered 503 (the tunnel: GOAWAY at maxClients)' },
  headers_timeout: { side: 'local', meaning: 'the request head did not arrive within its timeout (slow client): 408' },
  request_timeout: { side: 'local', meaning: 'the request body did not arrive within its timeout: 408' },
  response_timeout: { side: 'local', meaning: 'the backend did not start its response within its timeout' },
  stream_idle_timeout: { side: 'local', meaning: 'a request or response stream stood still for longer than its idle timeout' },
  handshake_timeout: { side: 'local', meaning: 'a protocol handshake (TLS, tunnel hello) did not finish in time' },
  heartbeat_timeout: { side: 'local', meaning: 'a ping (HTTP/2 PING, WebSocket ping, tunnel heartbeat) went unanswered: the peer process hangs while its kernel still answers' },
  flood: { side: 'local', meaning: 'the peer sent more control traffic than allowed (PING, SETTINGS, resets): refused' },
  protocol_error: { side: 'local', meaning: 'the peer sent bytes that break the protocol' },
  auth_failed: { side: 'local', meaning: 'the peer failed authentication' },
  drain: { side: 'local', meaning: 'closed gracefully by a drain (shutdown, reload, endpoint removed)' },
  drain_forced: { side: 'local', meaning: 'still busy when the drain\'s time ran out, and destroyed' },
  shutdown: { side: 'local', meaning: 'the owning object was closed (agent.destroy(), close())' },
  aborted: { side: 'local', meaning: 'the other half of the exchange went away or failed, so this connection was closed with it' },
  app_close: { side: 'local', meaning: 'the application closed it (a handler\'s Connection: close, socket.destroy())' },
  upgrade: { side: 'local', meaning: 'handed over to an upgrade (WebSocket) handler: no longer counted as HTTP' },
  health: { side: 'local', meaning: 'closed because its endpoint was marked unhealthy or removed' },
  peer_close: { side: 'remote', meaning: 'the peer closed (FIN) during or right after an exchange, or asked to close (Connection: close, GOAWAY)' },
  peer_idle_close: { side: 'remote', meaning: 'the peer closed (FIN) a connection that was idle: its idle timeout was shorter than ours' },
  stale: { side: 'remote', meaning: 'found closing (FIN, RST or stray bytes) when about to be reused' },
  reset: { side: 'remote', meaning: 'the peer reset the connection (RST, EPIPE): its process died or refused' },
  tcp_timeout: { side: 'remote', meaning: 'TCP keepalive or TCP_USER_TIMEOUT expired (ETIMEDOUT): host gone or link cut' },
  tls_error: { side: 'remote', meaning: 'a TLS alert or handshake failure' },
  error: { side: 'remote', meaning: 'another socket error' },
} as const satisfies Record<string, ReasonInfo>;

export type CloseReason = keyof typeof CLOSE_REASONS;

/** The reasons in a stable order (the table's), for counters that list every one. */
export const CLOSE_REASON_NAMES: readonly CloseReason[] = Object.keys(CLOSE_REASONS) as CloseReason[];

/** Who ended a connection closed for `reason`. */
export function closeSide(reason: CloseReason): CloseSide {
  return CLOSE_REASONS[reason].side;
}

/**
 * The reason a socket error stands for, by its errno: the layer that noticed is in the code
 * (ECONNRESET is the peer's RST, ETIMEDOUT the kernel giving up on TCP keepalive, an SSL code TLS).
 *
 * @example
 *   socket.on('error', (e) => { reason ??= reasonFromError(e); });
 */
export function reasonFromError(error: unknown): CloseReason {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return 'error';
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    case 'ETIMEDOUT':
      return 'tcp_timeout';
    default:
      if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') return 'tls_error';
      return 'error';
  }
}

/**
 * A CloseInfo for `reason` noticed by `layer`. `side` defaults to the reason's own; pass it only
 * when the peer made a decision that is named from our point of view (a server refusing our
 * credentials is `auth_failed`, decided remotely).
 *
 * @example
 *   closeInfo('heartbeat_timeout', 'tunnel') // { reason: 'heartbeat_timeout', side: 'local', layer: 'tunnel' }
 */
export function closeInfo(reason: CloseReason, layer: CloseLayer, side: CloseSide = CLOSE_REASONS[reason].side): CloseInfo {
  return { reason, side, layer };
}

/**
 * The CloseInfo a socket error stands for: the reason by errno (reasonFromError) and its layer:
 * `tls` for a TLS failure, otherwise `tcp` (the kernel reported it).
 *
 * @example
 *   closeInfoFromError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })) // tcp_timeout, remote, tcp
 */
export function closeInfoFromError(error: unknown): CloseInfo {
  const reason = reasonFromError(error);
  return closeInfo(reason, reason === 'tls_error' ? 'tls' : 'tcp');
}
