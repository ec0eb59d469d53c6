/**
 * Opening a connection to a backend endpoint, plain TCP or TLS (SNI, the cluster's CA, session
 * resumption); either reads into the proxy's shared buffer, so no Buffer is allocated per read.
 */
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
