/**
 * Token authentication by challenge and HMAC, and certificate pinning by SHA-256 fingerprint.
 *
 * Why: the token never crosses the wire, not even inside TLS. The server sends 32 random bytes
 * (HELLO); the client answers HMAC-SHA256(token, label || nonce || exporter), where `exporter` is
 * 32 bytes of TLS keying material (RFC 5705/8446 exporter, label `EXPORTER-lifeline-tunnel`) that
 * only the two ends of *this* TLS connection can compute. So a MAC captured or relayed by a
 * machine-in-the-middle (who would have its own TLS connection to the server) is useless on any
 * other connection. The server compares in constant time against every configured token.
 *
 * Pinning: the client compares the SHA-256 fingerprint of the server's leaf certificate with the
 * pinned value before it sends AUTH, and closes the connection on a mismatch.
 */
import { createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { InvalidOptionError } from '../core/errors.js';

const LABEL = Buffer.from('lifeline-tunnel v1 auth\0', 'latin1');
export const EXPORTER_LABEL = 'EXPORTER-lifeline-tunnel';
export const EXPORTER_BYTES = 32;

/**
 * The client's answer to the challenge.
 * @example const mac = authMac(token, hello.nonce, tls.exportKeyingMaterial(32, EXPORTER_LABEL));
 */
export function authMac(token: string, nonce: Buffer, exporter: Buffer): Buffer {
  return createHmac('sha256', token).update(LABEL).update(nonce).update(exporter).digest();
}

/** True when `mac` is the answer for one of `tokens` (constant time per token). */
export function verifyMac(tokens: readonly string[], nonce: Buffer, exporter: Buffer, mac: Buffer): boolean {
  let ok = false;
  for (const token of tokens) {
    const expected = authMac(token, nonce, exporter);
    if (mac.length === expected.length && timingSafeEqual(mac, expected)) ok = true;
  }
  return ok;
}

/**
 * Normalise a SHA-256 fingerprint to upper-case hex pairs joined by `:` (Node's `fingerprint256`
 * form). Accepts colons or not, any case, and an optional `sha256:`/`SHA256=` prefix.
 * @example normalizeFingerprint('sha256:ab01...') // 'AB:01:...'
 */
export function normalizeFingerprint(option: string, text: string): string {
  const hex = text.replace(/^sha-?256[:=]/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new InvalidOptionError(option, `${option} must be a SHA-256 fingerprint (64 hex digits, colons optional); got ${JSON.stringify(text)}`);
  return hex.match(/../g)?.join(':') ?? hex;
}

/**
 * SHA-256 fingerprint of a PEM or DER certificate, in `AB:01:...` form.
 * @example fingerprintOf(readFileSync('server.crt'))
 */
export function fingerprintOf(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}
