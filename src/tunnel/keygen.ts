/**
 * `lifeline tunnel keygen`: a self-signed server key pair and its SHA-256 fingerprint, which the
 * client pins (`--fingerprint`), so no certificate authority is needed.
 *
 * Why openssl: Node 20's crypto generates keys but cannot issue X.509 certificates, and a
 * hand-written DER encoder is more code to trust than the openssl CLI Debian ships. The key is
 * EC P-256 (fast handshakes; TLS 1.3 only). The fingerprint is computed by Node from the result.
 * Files are written with mode 0600 (key) and 0644 (certificate).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { TunnelError } from './errors.js';
import { fingerprintOf } from './auth.js';

export interface KeyPair {
  key: string;
  cert: string;
  /** SHA-256 fingerprint, `AB:CD:...`. */
  fingerprint: string;
}

export interface KeygenOptions {
  /** Names and IPs the certificate is for (subjectAltName). Default ['localhost', '127.0.0.1']. */
  names?: readonly string[];
  /** Validity in days. Default 825. */
  days?: number;
}

/**
 * @example const { key, cert, fingerprint } = generateKeyPair({ names: ['vpn.example.com'] });
 */
export function generateKeyPair(options: KeygenOptions = {}): KeyPair {
  const names = options.names ?? ['localhost', '127.0.0.1'];
  const san = names.map((n) => (isIP(n) !== 0 ? `IP:${n}` : `DNS:${n}`)).join(',');
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-keygen-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(options.days ?? 825), '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${names[0] ?? 'lifeline-tunnel'}`, '-addext', `subjectAltName=${san}`],
        { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
      );
    } catch (error) {
      throw new TunnelError('ERR_TUNNEL_KEYGEN', `openssl failed (is it installed?): ${(error as Error).message}`, { cause: error });
    }
    chmodSync(keyFile, 0o600);
    const key = readFileSync(keyFile, 'utf8');
    const cert = readFileSync(certFile, 'utf8');
    return { key, cert, fingerprint: fingerprintOf(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
