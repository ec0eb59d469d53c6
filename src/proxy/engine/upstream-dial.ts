/**
 * Opening a connection to a backend endpoint, plain TCP or TLS (SNI, the cluster's CA, session
 * resumption); either reads into the proxy's shared buffer, so no Buffer is allocated per read.
 * HTTP/2 backends get a node:http2 session on such a socket (`dialHttp2Upstream`).
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { getSystemErrorMap } from 'node:util';
import { LifelineError } from '../../core/errors.js';
import type { TlsSessionCache } from '../../transport/tls-session-cache.js';
import type { ClusterConfig, EndpointConfig } from '../config/index.js';

/**
 * A connect attempt that failed or timed out. The message says what failed and why, in one line
 * (`could not connect to 10.0.0.5:8443 (ERR_UPSTREAM_ALPN): the backend did not agree to HTTP/2
 * by ALPN (it chose none)`); the errno (ECONNREFUSED, ENOTFOUND) is kept for logs and retries.
 */
export class UpstreamConnectError extends LifelineError {
  readonly errno: string | undefined;
  constructor(endpoint: string, cause: unknown, timedOut: boolean) {
    const errno = (cause as { code?: unknown } | undefined)?.code;
    const why = causeSentence(cause);
    super(
      timedOut ? 'ERR_UPSTREAM_CONNECT_TIMEOUT' : 'ERR_UPSTREAM_CONNECT',
      `${timedOut ? 'timed out connecting' : 'could not connect'} to ${endpoint}${typeof errno === 'string' ? ` (${errno})` : ''}${why === '' ? '' : `: ${why}`}`,
      { cause },
    );
    this.errno = timedOut ? 'ETIMEDOUT' : typeof errno === 'string' ? errno : undefined;
  }
}

/**
 * Why a dial failed, as a sentence. A system error's own message repeats the errno and the
 * address (`connect ECONNREFUSED 10.0.0.5:8080`), so the system's text for it is used instead
 * (`connection refused`); any other error (TLS verification, ALPN) says it best itself.
 */
function causeSentence(cause: unknown): string {
  if (!(cause instanceof Error)) return '';
  const errno = (cause as { errno?: unknown }).errno;
  if (typeof (cause as { syscall?: unknown }).syscall === 'string' && typeof errno === 'number') {
    const known = getSystemErrorMap().get(errno);
    if (known !== undefined) return known[1];
  }
  return cause.message;
}

export interface DialHost {
  tlsSessions: TlsSessionCache | undefined;
  readBuffer: Buffer;
}

/**
 * The socket to `endpoint`. Each read (decrypted, for TLS) is handed to `onRead` as a view of
 * `host.readBuffer`, valid only during the call; the socket emits no 'data'.
 */
export function dialUpstream(endpoint: EndpointConfig, upstreamTls: ClusterConfig['tls'], ca: Buffer | undefined, host: DialHost, onRead: (chunk: Buffer) => void): net.Socket {
  const { host: name, port } = endpoint;
  const readBuffer = host.readBuffer;
  const callback = (nread: number): boolean => {
    onRead(readBuffer.subarray(0, nread));
    return true; // keep reading (false would pause the socket)
  };
  if (upstreamTls.enabled) {
    const servername = upstreamTls.servername ?? (net.isIP(name) === 0 ? name : undefined);
    // `onread` works for tls.connect as for net.connect when no `socket` is given (TLSSocket passes
    // it to net.Socket, and TLSWrap hands decrypted bytes to the same read callback); @types/node
    // lists it for net only. Without it each decrypted read would allocate an ArrayBuffer.
    const options: tls.ConnectionOptions & { host: string; port: number; onread: net.OnReadOpts } = {
      host: name,
      port,
      onread: { buffer: readBuffer, callback },
      rejectUnauthorized: upstreamTls.rejectUnauthorized,
      ALPNProtocols: ['http/1.1'],
      ...(servername === undefined ? {} : { servername }),
      ...(ca === undefined ? {} : { ca }),
    };
    return host.tlsSessions === undefined ? tls.connect(options) : host.tlsSessions.connect(options);
  }
  return net.connect({ host: name, port, noDelay: true, onread: { buffer: readBuffer, callback } });
}

/**
 * An HTTP/2 session to `endpoint` (`protocol: http2`): over TLS offering only `h2` by ALPN, or in
 * clear with prior knowledge (h2c). The caller checks ALPN at 'connect' (`alpnRefusal`).
 */
export function dialHttp2Upstream(endpoint: EndpointConfig, upstreamTls: ClusterConfig['tls'], ca: Buffer | undefined, tlsSessions: TlsSessionCache | undefined): { socket: net.Socket; h2: http2.ClientHttp2Session } {
  const { host: name, port } = endpoint;
  let socket: net.Socket;
  if (upstreamTls.enabled) {
    const servername = upstreamTls.servername ?? (net.isIP(name) === 0 ? name : undefined);
    const options = { host: name, port, rejectUnauthorized: upstreamTls.rejectUnauthorized, ALPNProtocols: ['h2'], ...(servername === undefined ? {} : { servername }), ...(ca === undefined ? {} : { ca }) };
    socket = tlsSessions === undefined ? tls.connect(options) : tlsSessions.connect(options);
  } else socket = net.connect({ host: name, port, noDelay: true });
  const authority = `${upstreamTls.enabled ? 'https' : 'http'}://${net.isIPv6(name) ? `[${name}]` : name}:${port}`;
  const h2 = http2.connect(authority, { createConnection: () => socket, maxSessionMemory: 64 });
  return { socket, h2 };
}

/** Why a TLS backend is not HTTP/2 (it did not choose `h2` by ALPN), or undefined when it is. */
export function alpnRefusal(socket: net.Socket): Error | undefined {
  const alpn = (socket as net.Socket & { alpnProtocol?: string | false }).alpnProtocol;
  if (alpn === 'h2') return undefined;
  return Object.assign(new Error(`the backend did not agree to HTTP/2 by ALPN (it chose ${alpn === false || alpn === undefined ? 'none' : alpn})`), { code: 'ERR_UPSTREAM_ALPN' });
}
