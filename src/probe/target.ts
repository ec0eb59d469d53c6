/**
 * The server under test: its address from the URL, and raw connections to it (TCP, or TLS over
 * TCP) whose connect and handshake are timed and bounded.
 *
 * Why raw sockets: the measurements need the exact moment of a FIN or an RST, which an HTTP
 * client library hides behind its pool. A failure to connect becomes one readable line
 * (`describeConnectError`).
 */
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, PeerCertificate, TLSSocket } from 'node:tls';
import { ProbeUnreachableError, ProbeUrlError } from './probe-errors.js';

export interface Target {
  url: URL;
  tls: boolean;
  /** Host name or address to connect to (IPv6 without brackets). */
  host: string;
  port: number;
  /** SNI name (omitted for an IP address, as TLS forbids it). */
  servername: string | undefined;
  /** Value of the Host header. */
  hostHeader: string;
  /** Path and query of the requests. */
  path: string;
  ca: string | Buffer | undefined;
  insecure: boolean;
}

/** Parse the URL the probe measures; throws ProbeUrlError for anything but http(s) with a host. */
export function parseTarget(text: string, ca: string | Buffer | undefined, insecure: boolean): Target {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProbeUrlError(`not a URL: '${text}' (try http://host:port/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProbeUrlError(`unsupported scheme '${url.protocol}' in '${text}': use http: or https:`);
  }
  if (url.hostname === '') throw new ProbeUrlError(`no host in '${text}'`);
  const tls = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  return {
    url, tls, host,
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    servername: isIp ? undefined : host,
    hostHeader: url.host,
    path: `${url.pathname}${url.search}`,
    ca, insecure,
  };
}

/** An open connection and how long it took. */
export interface Opened<S extends Socket> {
  socket: S;
  /** TCP connect, ms. */
  connectMs: number;
  /** TLS handshake after the TCP connect, ms (0 for plain TCP). */
  handshakeMs: number;
  /** TLS sessions received so far, oldest first; keeps filling while the socket lives (a TLS 1.2
   * session comes during the handshake, TLS 1.3 tickets after it). */
  sessions: Buffer[];
}

/** Extra TLS options of one connection (version cap, session to resume, ALPN). */
export type TlsExtra = Pick<ConnectionOptions, 'maxVersion' | 'minVersion' | 'session' | 'ALPNProtocols' | 'secureOptions'> & { verify?: boolean };

function names(cert: PeerCertificate | undefined): string {
  if (cert === undefined || Object.keys(cert).length === 0) return 'no certificate';
  const cn = typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
  const alt = cert.subjectaltname ?? '';
  return `subject CN=${cn ?? '(none)'}${alt === '' ? ', no subjectAltName' : `, subjectAltName ${alt}`}`;
}

/** One line for a failed connect: DNS, refused, unreachable, timeout, TLS. */
export function describeConnectError(target: Target, error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const where = `${target.host}:${target.port}`;
  switch (code) {
    case 'ENOTFOUND': return `DNS: name not found: ${target.host}`;
    case 'EAI_AGAIN': return `DNS: temporary failure resolving ${target.host}`;
    case 'ECONNREFUSED': return `connection refused by ${where}`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `no route to ${where}`;
    case 'ECONNRESET': return `connection reset by ${where} during connect or handshake`;
    case 'ETIMEDOUT': return `connect to ${where} timed out`;
    default: return `${where}: ${error instanceof Error ? error.message : String(error)}${typeof code === 'string' ? ` (${code})` : ''}`;
  }
}

/**
 * Connect (and handshake, for https) within `timeoutMs`. For https the certificate is verified
 * unless the target is insecure or `extra.verify` is false; a refused certificate is named with
 * its subject and alternative names.
 * @throws ProbeUnreachableError with a one-line message
 */
export function open(target: Target, timeoutMs: number, extra: TlsExtra = {}): Promise<Opened<Socket>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let connectMs = 0;
    const sessions: Buffer[] = [];
    const verify = !target.insecure && extra.verify !== false;
    let socket: Socket;
    if (target.tls) {
      const { verify: _verify, ...tlsExtra } = extra;
      const options: ConnectionOptions = { host: target.host, port: target.port, rejectUnauthorized: false, ...tlsExtra };
      if (target.servername !== undefined) options.servername = target.servername;
      if (target.ca !== undefined) options.ca = target.ca;
      socket = tlsConnect(options);
      socket.on('session', (session: Buffer) => sessions.push(session));
    } else {
      socket = netConnect({ host: target.host, port: target.port });
    }
    const timer = setTimeout(() => fail(new ProbeUnreachableError(`${target.tls ? 'connect or TLS handshake' : 'connect'} to ${target.host}:${target.port} took more than ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    function fail(error: unknown): void {
      clearTimeout(timer);
      socket.destroy();
      reject(error instanceof ProbeUnreachableError ? error : new ProbeUnreachableError(describeConnectError(target, error), error));
    }
    socket.once('error', fail);
    socket.once('connect', () => {
      connectMs = performance.now() - started;
      if (!target.tls) done();
    });
    if (target.tls) socket.once('secureConnect', () => {
      const tlsSocket = socket as TLSSocket;
      if (verify && !tlsSocket.authorized) {
        const cert = tlsSocket.getPeerCertificate();
        fail(new ProbeUnreachableError(`TLS: certificate refused (${String(tlsSocket.authorizationError)}): ${names(cert)}; expected ${target.host}`));
        return;
      }
      done();
    });
    function done(): void {
      clearTimeout(timer);
      socket.off('error', fail);
      const total = performance.now() - started;
      resolve({ socket, connectMs, handshakeMs: target.tls ? total - connectMs : 0, sessions });
    }
  });
}
