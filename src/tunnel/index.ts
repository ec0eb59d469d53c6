/**
 * `lifeline/tunnel`: a VPN-like TCP tunnel whose client pings to stay present.
 *
 * One TLS 1.3 (or WebSocket-over-TLS) connection per client carries many streams with per-stream
 * flow control; the client serves SOCKS5, HTTP CONNECT and static forwards; the server dials
 * allowed destinations. See docs/tunnel.md for the frame format and the security model.
 */
export { TunnelServer } from './tunnel-server.js';
export type { TunnelServerOptions, TunnelServerEvents, TunnelServerStatus } from './tunnel-server.js';
export { TunnelClient } from './tunnel-client.js';
export type { TunnelClientOptions, TunnelClientEvents, TunnelClientStatus, TunnelClientState } from './tunnel-client.js';
export { ServerSession, Reply } from './server-session.js';
export type { ServerSessionStatus, ServerCloseReason } from './server-session.js';
export { ClientSession } from './client-session.js';
export type { OpenResult } from './client-session.js';
export { Allowlist } from './allowlist.js';
export type { AllowDecision, Lookup } from './allowlist.js';
export { authMac, fingerprintOf, normalizeFingerprint } from './auth.js';
export { generateKeyPair } from './keygen.js';
export type { KeyPair, KeygenOptions } from './keygen.js';
export { parseHostPort, parseForwardSpec, destination, formatDestination } from './address.js';
export type { Destination, ForwardSpec } from './address.js';
export { FrameDecoder, FrameType, FRAME_VERSION, HEADER_BYTES, MAX_DATA_PAYLOAD, encodeFrame } from './frame.js';
export type { Frame } from './frame.js';
export { TunnelError, TunnelAuthError, TunnelProtocolError, TunnelDeadPeerError } from './errors.js';
export { AdminServer } from './admin-server.js';
export { prometheusText } from './metrics.js';
export { EntryListener } from './entry-listener.js';
