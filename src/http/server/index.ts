/**
 * `lifeline/server`: the server keep-alive policy. Idle timeouts that never race the client,
 * a connection cap that evicts the idle first, slow-client timeouts, graceful drain, counters;
 * HTTP/2 PING keepalive and WebSocket heartbeats. See docs/server.md.
 *
 * Also the policy's pieces, for a server that owns raw sockets (the reverse proxy): the pure
 * keep-or-close decision (`decideKeepAlive`), the connection table (`ConnectionTable`, on core's
 * StateTable), admission at the cap (`Admission`, `NewcomerQueue`), the spread drain
 * (`DrainRun`) and the lingering close (`answerAndClose`, `rejectNewcomer`, `LINGER_MS`).
 */
export { keepAlive } from './keep-alive.js';
export { KeepAliveController } from './keep-alive-controller.js';
export type { ServerStats } from './server-stats.js';
export type { KeepAliveOptions, DrainOptions, ResolvedKeepAliveOptions } from './keep-alive-options.js';
export type { DrainResult } from './drain-run.js';
export { Http2KeepAliveController } from './http2-keep-alive-controller.js';
export type { Http2KeepAliveOptions, Http2ServerStats } from './http2-keep-alive-controller.js';
export { heartbeat } from './websocket-heartbeat.js';
export type { WebSocketHeartbeat, WebSocketHeartbeatOptions, WebSocketHeartbeatStats } from './websocket-heartbeat.js';
export { SERVER_CLOSE_REASONS, REQUESTS_BUCKETS, serverReasonFromError } from './server-stats.js';
export type { ServerCloseReason, CloseCounts, Histogram } from './server-stats.js';
export { Connection, ConnectionTable } from './connection-table.js';
export type { ConnectionState } from './connection-table.js';
export { decideKeepAlive, keepAlivePolicy } from './keep-alive-decision.js';
export type { KeepAliveDecision, KeepAliveFacts, KeepAlivePolicy, KeepAlivePolicyOptions } from './keep-alive-decision.js';
export { NewcomerQueue } from './newcomer-queue.js';
export { Admission } from './admission.js';
export type { AdmissionHooks, AdmissionOptions } from './admission.js';
export { DrainRun } from './drain-run.js';
export type { Drainable, DrainRunOptions } from './drain-run.js';
export { answerAndClose, rejectNewcomer, rawResponse, LINGER_MS } from './lingering-close.js';
