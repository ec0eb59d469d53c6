/**
 * Tunnel errors, each with a stable `code`.
 *
 * Why separate classes: a session that receives bad wire data is closed with a
 * `TunnelProtocolError`, an authentication or pinning failure with a `TunnelAuthError`, and a peer
 * that stopped answering with a `TunnelDeadPeerError`; callers switch on `code`, and the server
 * counts closes by it. A normal close (client went away, idle timeout) is a reason, not one of these.
 */
import { LifelineError } from '../core/errors.js';

/** Codes a `TunnelProtocolError` can carry (bad wire data from the peer). */
export type TunnelProtocolCode =
  | 'ERR_TUNNEL_VERSION'
  | 'ERR_TUNNEL_FRAME'
  | 'ERR_TUNNEL_FRAME_TOO_LARGE'
  | 'ERR_TUNNEL_STREAM'
  | 'ERR_TUNNEL_FLOW_CONTROL'
  | 'ERR_TUNNEL_UNEXPECTED';

/**
 * The peer sent bytes that break the frame format or the protocol. Only the offending session is
 * closed.
 * @example if (err instanceof TunnelProtocolError) log(err.code); // 'ERR_TUNNEL_FLOW_CONTROL'
 */
export class TunnelProtocolError extends LifelineError {
  declare readonly code: TunnelProtocolCode;
  constructor(code: TunnelProtocolCode, message: string) {
    super(code, message);
  }
}

/**
 * Authentication failed: a wrong token, no acceptable client certificate, or (on the client) a
 * server certificate whose SHA-256 fingerprint is not the pinned one. Code `ERR_TUNNEL_AUTH` or
 * `ERR_TUNNEL_FINGERPRINT`.
 * @example client.on('disconnected', (e) => e.error?.code === 'ERR_TUNNEL_FINGERPRINT' && alert())
 */
export class TunnelAuthError extends LifelineError {
  constructor(code: 'ERR_TUNNEL_AUTH' | 'ERR_TUNNEL_FINGERPRINT', message: string) {
    super(code, message);
  }
}

/**
 * The client's heartbeat declared the server dead (`missedPings` pings unanswered in a row).
 * @example new TunnelDeadPeerError(3, 55_000)
 */
export class TunnelDeadPeerError extends LifelineError {
  readonly missedPings: number;
  readonly silentMs: number;
  constructor(missedPings: number, silentMs: number) {
    super('ERR_TUNNEL_DEAD_PEER', `server did not answer ${missedPings} pings; silent for ${Math.round(silentMs)} ms`);
    this.missedPings = missedPings;
    this.silentMs = silentMs;
  }
}

/**
 * A limit was reached (`ERR_TUNNEL_LIMIT`: too many clients) or the peer told us to go away with
 * a code (`GOAWAY`), or a timeout during connect/handshake (`ERR_TUNNEL_TIMEOUT`).
 * @example new TunnelError('ERR_TUNNEL_LIMIT', 'too many clients (max 100)')
 */
export class TunnelError extends LifelineError {}

/** TLS verification failures (Node's and OpenSSL's codes): a retry meets the same certificate. */
const FATAL_TLS_CODES = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_REJECTED', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'INVALID_CA',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A failure that retrying cannot cure by itself: credentials refused, the pin does not match, the
 * certificate does not verify.
 */
export function isFatal(error: Error): boolean {
  const raw = (error as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : error.name;
  return code === 'ERR_TUNNEL_AUTH' || code === 'ERR_TUNNEL_FINGERPRINT' || FATAL_TLS_CODES.has(code);
}
