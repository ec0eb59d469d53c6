/**
 * Every `ERR_*` code lifeline uses, in one registry: what it means, which layer raises or matches
 * it and, for the codes the reverse proxy answers a client with (in its `X-Lifeline-Error`
 * header), the HTTP status that goes with it.
 *
 * `docs/errors.md` is generated from this table and `CLOSE_REASONS` (`node scripts/errors-doc.mjs`
 * after `npm run build`); `test/error-codes.test.ts` fails on a code used in `src/` that is missing
 * here, on an entry nothing uses, and on a stale `docs/errors.md`.
 *
 * `kind`: `error` is the `code` of a thrown or rejected error; `answer` a code only sent to a peer
 * (a proxy response header, a tunnel GOAWAY, a lease API body) or logged; `match` a code or code
 * prefix of Node's that lifeline only recognises, never raises.
 */

export type ErrorLayer = 'core' | 'transport' | 'wire' | 'agent' | 'server' | 'proxy' | 'tunnel' | 'lease' | 'awake' | 'probe' | 'cli';

export interface ErrorCodeInfo {
  readonly layer: ErrorLayer;
  readonly kind: 'error' | 'answer' | 'match';
  readonly meaning: string;
  /** The status of the proxy's (or the lease API's) own response carrying this code. */
  readonly httpStatus?: number;
}

export const ERROR_CODES = {
  // core
  ERR_INVALID_OPTION: { layer: 'core', kind: 'error', meaning: 'an option (or CLI flag, or API field) has the wrong type or is out of range; the message names it and what was expected', httpStatus: 400 },
  ERR_CLOSED: { layer: 'core', kind: 'error', meaning: 'the object was used after close()' },
  ERR_ILLEGAL_TRANSITION: { layer: 'core', kind: 'error', meaning: 'a state machine was asked for a move its transition table does not allow: a bug, never a runtime condition' },
  ERR_SSL: { layer: 'core', kind: 'match', meaning: "prefix of Node's OpenSSL error codes: a socket error with it is the close reason tls_error" },
  ERR_TLS_CERT_ALTNAME_INVALID: { layer: 'core', kind: 'match', meaning: "Node's code for a certificate that does not name the host: the tunnel reports it as a fingerprint/name mismatch (fatal)" },
  ERR_TLS: { layer: 'core', kind: 'match', meaning: "prefix of Node's TLS error codes: a socket error with it is the close reason tls_error" },
  // transport
  ERR_TCP_KEEPALIVE: { layer: 'transport', kind: 'error', meaning: 'setting TCP keepalive options on a socket failed (the cause is the system error)' },
  ERR_TICKET_KEYS_IN_USE: { layer: 'transport', kind: 'error', meaning: "a TLS server's SecureContext already has an open ticket-key rotation" },
  // wire (the strict HTTP/1.1 parsers; the proxy answers the client with the status and closes)
  ERR_HTTP_BAD_REQUEST_LINE: { layer: 'wire', kind: 'error', meaning: 'the request line is malformed', httpStatus: 400 },
  ERR_HTTP_BAD_STATUS_LINE: { layer: 'wire', kind: 'error', meaning: "an upstream's status line is malformed" },
  ERR_HTTP_VERSION_NOT_SUPPORTED: { layer: 'wire', kind: 'error', meaning: 'a well-formed HTTP version other than 1.0 and 1.1', httpStatus: 505 },
  ERR_HTTP_BAD_HEADER: { layer: 'wire', kind: 'error', meaning: 'a header field line is malformed (bad name, whitespace before the colon, bad value bytes)', httpStatus: 400 },
  ERR_HTTP_BAD_HOST: { layer: 'wire', kind: 'error', meaning: 'an HTTP/1.1 request without exactly one valid Host', httpStatus: 400 },
  ERR_HTTP_BAD_CONTENT_LENGTH: { layer: 'wire', kind: 'error', meaning: 'Content-Length repeated, signed or not a number', httpStatus: 400 },
  ERR_HTTP_BAD_TRANSFER_ENCODING: { layer: 'wire', kind: 'error', meaning: 'a Transfer-Encoding other than a single final chunked, or one in HTTP/1.0', httpStatus: 400 },
  ERR_HTTP_CL_TE: { layer: 'wire', kind: 'error', meaning: 'both Content-Length and Transfer-Encoding (a smuggling vector)', httpStatus: 400 },
  ERR_HTTP_OBS_FOLD: { layer: 'wire', kind: 'error', meaning: 'a field line starts with whitespace (obsolete line folding)', httpStatus: 400 },
  ERR_HTTP_BARE_CR: { layer: 'wire', kind: 'error', meaning: 'a CR not followed by LF in a head', httpStatus: 400 },
  ERR_HTTP_BARE_LF: { layer: 'wire', kind: 'error', meaning: 'a line ending in LF without CR in a head', httpStatus: 400 },
  ERR_HTTP_HEADERS_TOO_LARGE: { layer: 'wire', kind: 'error', meaning: 'the head is longer than maxHeaderBytes', httpStatus: 431 },
  ERR_HTTP_TOO_MANY_HEADERS: { layer: 'wire', kind: 'error', meaning: 'more field lines than maxHeaders', httpStatus: 431 },
  ERR_HTTP_BAD_CHUNK: { layer: 'wire', kind: 'error', meaning: 'a malformed chunk size line or chunk terminator', httpStatus: 400 },
  ERR_HTTP_BAD_TRAILER: { layer: 'wire', kind: 'error', meaning: 'a malformed trailer section after the last chunk', httpStatus: 400 },
  // agent
  ERR_STALE_SOCKET: { layer: 'agent', kind: 'error', meaning: 'a reused keep-alive socket failed before any response byte and the request could not be replayed safely' },
  ERR_STREAM_PREMATURE_CLOSE: { layer: 'agent', kind: 'match', meaning: "Node's error for a stream closed early: counted like a reset when a reused socket fails" },
  // server
  ERR_JSON_BODY_TOO_LARGE: { layer: 'server', kind: 'error', meaning: 'readJsonObject: a request body over the caller\'s byte limit (the admin and lease APIs answer 413 with their own code)' },
  ERR_JSON_BODY_INVALID: { layer: 'server', kind: 'error', meaning: 'readJsonObject: a request body that is not JSON, or JSON but not an object (the admin and lease APIs answer 400 with their own code)' },
  // proxy
  ERR_CONFIG: { layer: 'proxy', kind: 'error', meaning: 'the proxy configuration is invalid; the message lists each problem as file:line:column: key path' },
  ERR_LISTEN: { layer: 'proxy', kind: 'error', meaning: 'a listener cannot listen on its address (in use, no permission)' },
  ERR_NOT_LISTENING: { layer: 'proxy', kind: 'error', meaning: 'a listener address was asked for before the proxy listened' },
  ERR_RELOAD_LISTENERS: { layer: 'proxy', kind: 'error', meaning: 'a reload changed or added a listener, which needs a restart' },
  ERR_POOL_CLOSED: { layer: 'proxy', kind: 'error', meaning: "a request waited for an upstream connection from an endpoint's pool that was closed" },
  ERR_BAD_TARGET: { layer: 'proxy', kind: 'answer', meaning: 'the request target is neither origin-form nor an absolute URI the proxy serves', httpStatus: 400 },
  ERR_CONNECT_NOT_ALLOWED: { layer: 'proxy', kind: 'answer', meaning: 'a CONNECT request: the reverse proxy does not tunnel', httpStatus: 405 },
  ERR_NO_ROUTE: { layer: 'proxy', kind: 'answer', meaning: 'no route matches the request', httpStatus: 404 },
  ERR_NO_HEALTHY_UPSTREAM: { layer: 'proxy', kind: 'answer', meaning: "every endpoint of the route's cluster is unhealthy or ejected", httpStatus: 503 },
  ERR_TOO_MANY_CONNECTIONS: { layer: 'proxy', kind: 'answer', meaning: 'a newcomer at maxConnections with no idle connection to evict', httpStatus: 503 },
  ERR_HEADERS_TIMEOUT: { layer: 'proxy', kind: 'answer', meaning: 'the request head did not arrive within headersTimeoutMs', httpStatus: 408 },
  ERR_REQUEST_TIMEOUT: { layer: 'proxy', kind: 'answer', meaning: 'the request body did not arrive within requestTimeoutMs', httpStatus: 408 },
  ERR_UPSTREAM_CONNECT: { layer: 'proxy', kind: 'answer', meaning: 'connecting to the upstream failed', httpStatus: 502 },
  ERR_UPSTREAM_CONNECT_TIMEOUT: { layer: 'proxy', kind: 'answer', meaning: 'connecting to the upstream took longer than connectTimeoutMs', httpStatus: 504 },
  ERR_UPSTREAM_ALPN: { layer: 'proxy', kind: 'answer', meaning: 'a `protocol: http2` cluster\'s TLS backend did not choose h2 by ALPN: answered as ERR_UPSTREAM_CONNECT, with this code as the errno in the log', httpStatus: 502 },
  ERR_UPSTREAM_CLOSED: { layer: 'proxy', kind: 'answer', meaning: 'the upstream connection closed before any response byte and the request could not be replayed', httpStatus: 502 },
  ERR_UPSTREAM_RESPONSE: { layer: 'proxy', kind: 'answer', meaning: "the upstream's response head could not be parsed (logged with the parser's code)", httpStatus: 502 },
  ERR_BAD_UPSTREAM_RESPONSE: { layer: 'proxy', kind: 'answer', meaning: 'the upstream sent a response the proxy will not forward (malformed or ambiguous framing)', httpStatus: 502 },
  ERR_UPSTREAM_RESPONSE_TIMEOUT: { layer: 'proxy', kind: 'answer', meaning: 'the upstream did not start its response within responseTimeoutMs', httpStatus: 504 },
  ERR_STREAM_IDLE_TIMEOUT: { layer: 'proxy', kind: 'answer', meaning: 'a response or tunnelled stream stood still longer than streamIdleTimeoutMs (logged; the connection is closed)' },
  ERR_CLIENT_CLOSED: { layer: 'proxy', kind: 'answer', meaning: 'the client connection closed or failed while its request was in flight (logged; the upstream connection is closed as aborted)' },
  ERR_CLIENT_CLOSED_REQUEST: { layer: 'proxy', kind: 'answer', meaning: 'the client went away before the response was complete (logged, as nginx logs 499)' },
  ERR_WEBSOCKET_FRAME: { layer: 'proxy', kind: 'error', meaning: 'a WebSocket frame the proxy watches is malformed' },
  ERR_WEBSOCKET_PING_TIMEOUT: { layer: 'proxy', kind: 'error', meaning: "one side of a proxied WebSocket did not answer the proxy's ping in time" },
  // tunnel
  ERR_TUNNEL: { layer: 'tunnel', kind: 'match', meaning: 'prefix of every tunnel code: an error with it is reported to the peer in a GOAWAY' },
  ERR_TUNNEL_AUTH: { layer: 'tunnel', kind: 'error', meaning: 'token or client certificate authentication failed' },
  ERR_TUNNEL_FINGERPRINT: { layer: 'tunnel', kind: 'error', meaning: "the server certificate's fingerprint is not the pinned one" },
  ERR_TUNNEL_HANDSHAKE: { layer: 'tunnel', kind: 'error', meaning: 'a SOCKS5 or HTTP CONNECT handshake from a local client is malformed or unsupported' },
  ERR_TUNNEL_VERSION: { layer: 'tunnel', kind: 'error', meaning: 'the peer speaks another frame version' },
  ERR_TUNNEL_FRAME: { layer: 'tunnel', kind: 'error', meaning: 'a malformed frame' },
  ERR_TUNNEL_FRAME_TOO_LARGE: { layer: 'tunnel', kind: 'error', meaning: 'a frame longer than the limit for its type' },
  ERR_TUNNEL_FLOW_CONTROL: { layer: 'tunnel', kind: 'error', meaning: "the peer broke flow control (sent past the window, or grew it past 2^31)" },
  ERR_TUNNEL_STREAM: { layer: 'tunnel', kind: 'error', meaning: 'a frame for a stream in the wrong state (not yet open, already closed)' },
  ERR_TUNNEL_UNEXPECTED: { layer: 'tunnel', kind: 'error', meaning: 'a frame type not expected at this point of the session' },
  ERR_TUNNEL_TIMEOUT: { layer: 'tunnel', kind: 'error', meaning: 'connecting (to the server, or to a destination) timed out' },
  ERR_TUNNEL_CLOSED: { layer: 'tunnel', kind: 'error', meaning: 'the session or dial was closed or aborted while in use' },
  ERR_TUNNEL_DEAD_PEER: { layer: 'tunnel', kind: 'error', meaning: 'the peer stopped answering heartbeats' },
  ERR_TUNNEL_LIMIT: { layer: 'tunnel', kind: 'answer', meaning: 'the server has maxClients sessions: GOAWAY to the newcomer' },
  ERR_TUNNEL_SHUTDOWN: { layer: 'tunnel', kind: 'answer', meaning: 'the server is shutting down: GOAWAY to its clients' },
  ERR_TUNNEL_DONE: { layer: 'tunnel', kind: 'answer', meaning: 'the client is closing: GOAWAY to the server' },
  ERR_TUNNEL_LISTEN: { layer: 'tunnel', kind: 'error', meaning: 'a tunnel listener has no TCP address' },
  ERR_TUNNEL_KEYGEN: { layer: 'tunnel', kind: 'error', meaning: 'generating a key or certificate with openssl failed' },
  // proxy: HTTP/2 floods (each ends its session with GOAWAY; counted in lifeline_downstream_rq_rejected_total by code)
  ERR_HTTP2_RAPID_RESET: { layer: 'proxy', kind: 'error', meaning: 'Rapid Reset: more than half of 100 or more streams were reset by the client within 1 s of opening: GOAWAY ENHANCE_YOUR_CALM' },
  ERR_HTTP2_SETTINGS_FLOOD: { layer: 'proxy', kind: 'error', meaning: 'more SETTINGS frames than allowed: GOAWAY ENHANCE_YOUR_CALM' },
  ERR_HTTP2_REJECTED_STREAM_FLOOD: { layer: 'proxy', kind: 'error', meaning: 'more than 100 streams refused before reaching the proxy (oversized header lists): GOAWAY ENHANCE_YOUR_CALM rejected_streams' },
  ERR_HTTP2_PING_FLOOD: { layer: 'proxy', kind: 'error', meaning: "PINGs without data more often than the gRPC policy allows (strikes), or over maxPingsPerMinute: GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\"" },
  ERR_HTTP2_TOO_MANY_INVALID_FRAMES: { layer: 'proxy', kind: 'match', meaning: "Node's code when nghttp2 ends a session for too many invalid frames: counted as a flood" },
  ERR_HTTP2_INVALID_FRAME_FLOOD: { layer: 'proxy', kind: 'error', meaning: 'a flood of invalid or empty frames ended by nghttp2 (GOAWAY INTERNAL_ERROR): counted as a flood' },
  ERR_HTTP2_CONTINUATION_FLOOD: { layer: 'proxy', kind: 'error', meaning: 'a CONTINUATION flood ended by nghttp2 (GOAWAY INTERNAL_ERROR): counted as a flood' },
  ERR_HTTP2_ERROR: { layer: 'proxy', kind: 'match', meaning: "Node's generic HTTP/2 session error code: the session is closed as a protocol error" },
  // proxy: admin, dashboard and fleet
  ERR_ADMIN_UNPROTECTED: { layer: 'proxy', kind: 'error', meaning: 'the admin listener is bound off loopback without admin.token: the proxy refuses to start' },
  ERR_DASHBOARD_ASSETS: { layer: 'proxy', kind: 'error', meaning: "the dashboard's files were not found in the package" },
  ERR_BAD_REQUEST: { layer: 'proxy', kind: 'answer', meaning: 'an admin API request is malformed (body, key, encoding); the message says what', httpStatus: 400 },
  ERR_ENDPOINT_EXISTS: { layer: 'proxy', kind: 'answer', meaning: 'the endpoint is already in the cluster', httpStatus: 409 },
  ERR_ENDPOINT_NOT_FOUND: { layer: 'proxy', kind: 'answer', meaning: 'the cluster has no such endpoint', httpStatus: 404 },
  ERR_ENDPOINTS_MANAGED: { layer: 'proxy', kind: 'answer', meaning: 'the cluster takes its endpoints from DNS or an endpoints file: an edit through the API would be undone', httpStatus: 409 },
  ERR_ENDPOINT_INVALID: { layer: 'proxy', kind: 'answer', meaning: 'the endpoint address or weight is not valid', httpStatus: 400 },
  ERR_LAST_ENDPOINT: { layer: 'proxy', kind: 'answer', meaning: 'the last endpoint of a cluster cannot be removed', httpStatus: 409 },
  ERR_DNS_RESOLVE: { layer: 'proxy', kind: 'error', meaning: 'the resolver failed (refused, timed out, unreachable): the last good answer is kept' },
  ERR_DNS_EMPTY: { layer: 'proxy', kind: 'error', meaning: 'the name has no records (NXDOMAIN, empty, SRV target "."): the last good answer is kept' },
  ERR_DNS_INVALID: { layer: 'proxy', kind: 'error', meaning: 'the answer has more records than a cluster takes' },
  ERR_DNS_RECORD: { layer: 'proxy', kind: 'error', meaning: 'one record was skipped (SRV port 0, a target that does not resolve)' },
  ERR_ENDPOINTS_FILE: { layer: 'proxy', kind: 'error', meaning: 'the endpoints file cannot be read or is invalid: the old set is kept; the message names file:line:col' },
  // probe
  ERR_PROBE_URL: { layer: 'probe', kind: 'error', meaning: 'the URL given to lifeline probe is not an http(s) URL it can measure' },
  ERR_PROBE_UNREACHABLE: { layer: 'probe', kind: 'error', meaning: 'the server cannot be reached (DNS, refused, TLS verification); the message says which in one line' },
  ERR_PROBE_BAD_RESPONSE: { layer: 'probe', kind: 'error', meaning: 'the server sent a response the probe cannot read' },
  ERR_PROBE_CLOSED_EARLY: { layer: 'probe', kind: 'error', meaning: 'the server closed the connection before a response the measurement needed' },
  ERR_PROBE_NO_SETTINGS: { layer: 'probe', kind: 'error', meaning: 'an HTTP/2 server sent no SETTINGS frame' },
  ERR_PROBE: { layer: 'probe', kind: 'error', meaning: 'a measurement failed for a reason without a code of its own (the message says what)' },
  // lease (HTTP statuses are the lease API's)
  ERR_NOT_SUPPORTED: { layer: 'lease', kind: 'error', meaning: 'the lease store cannot do this (a store without overview() cannot list its leases)', httpStatus: 501 },
  ERR_LEASE_HELD: { layer: 'lease', kind: 'error', meaning: 'the lease is held by someone else', httpStatus: 409 },
  ERR_LEASE_NOT_FOUND: { layer: 'lease', kind: 'error', meaning: 'the lease does not exist (never granted, revoked, or expired)', httpStatus: 404 },
  ERR_LEASE_TOKEN_MISMATCH: { layer: 'lease', kind: 'error', meaning: "the token is not the lease's current one", httpStatus: 409 },
  ERR_LEASE_STALE_TOKEN: { layer: 'lease', kind: 'error', meaning: 'a fenced resource refused a token lower than one it already saw', httpStatus: 409 },
  ERR_LEASE_STORE_UNAVAILABLE: { layer: 'lease', kind: 'error', meaning: 'the lease store (Redis) cannot be reached', httpStatus: 503 },
  ERR_LEASE_BAD_ID: { layer: 'lease', kind: 'error', meaning: 'a lease id that is not 1-128 allowed characters', httpStatus: 400 },
  ERR_LEASE_BAD_TTL: { layer: 'lease', kind: 'error', meaning: 'a missing or out-of-range ttlMs', httpStatus: 400 },
  ERR_LEASE_BAD_TOKEN: { layer: 'lease', kind: 'error', meaning: 'a token that is not a positive integer', httpStatus: 400 },
  ERR_LEASE_BAD_METADATA: { layer: 'lease', kind: 'error', meaning: 'metadata that is not JSON-serialisable or too large', httpStatus: 400 },
  ERR_LEASE_BAD_REQUEST: { layer: 'lease', kind: 'error', meaning: 'a malformed lease request (options or body)', httpStatus: 400 },
  ERR_UNAUTHENTICATED: { layer: 'lease', kind: 'answer', meaning: 'the lease API needs Authorization: Bearer <token>', httpStatus: 401 },
  ERR_NOT_FOUND: { layer: 'lease', kind: 'answer', meaning: 'no lease API route for the path', httpStatus: 404 },
  ERR_METHOD_NOT_ALLOWED: { layer: 'lease', kind: 'answer', meaning: 'the lease API route does not take this method', httpStatus: 405 },
  ERR_INTERNAL: { layer: 'lease', kind: 'answer', meaning: 'an unexpected error in the lease API (logged; the body says no more)', httpStatus: 500 },
  // awake, cli
  ERR_AWAKE_UNAVAILABLE: { layer: 'awake', kind: 'error', meaning: 'no sleep inhibitor is available on this platform; the message lists what was tried' },
  ERR_USAGE: { layer: 'cli', kind: 'error', meaning: 'a bad command line: unknown command or flag, or a bad flag value (exit code 2)' },
} as const satisfies Record<`ERR_${string}`, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
