/**
 * `lifeline/transport`: sockets and TLS. TCP keepalive with full control (idle, interval, count,
 * user timeout) and TLS session reuse (client cache, server ticket-key rotation). Knows nothing of
 * HTTP or proxies.
 */
export { setTcpKeepAlive, getTcpKeepAlive, checkTcpKeepAliveOptions, TCP_KEEPALIVE_FALLBACK_WARNING } from './tcp-keepalive.js';
export type { TcpKeepAliveOptions, TcpKeepAliveOnOptions, TcpKeepAliveOffOptions, TcpKeepAliveResult, TcpKeepAliveReadback } from './tcp-keepalive.js';
export { TlsSessionCache } from './tls-session-cache.js';
export type { TlsSessionCacheOptions, TlsSessionCacheStats, CachedConnectOptions } from './tls-session-cache.js';
export { TicketKeyRotation } from './ticket-key-rotation.js';
export type { TicketKeyRotationOptions, TicketKeyRotationStats, TicketKeyMode } from './ticket-key-rotation.js';
export { probeSocket, isReusable } from './socket-probe.js';
export { transportCapabilities } from './capabilities.js';
export type { Capability, TransportCapabilities } from './capabilities.js';
export type { SocketProbe } from './socket-probe.js';
export { WriteBatcher, BufferPool } from './write-batcher.js';
