/**
 * Opening a connection to a backend endpoint, plain TCP or TLS (SNI, the cluster's CA, session
 * resumption); either reads into the proxy's shared buffer, so no Buffer is allocated per read.
 */
import net from 'node:net';
import tls from 'node:tls';
import { LifelineError } from '../../core/errors.js';
import type { TlsSessionCache } from '../../transport/tls-session-cache.js';
import type { ClusterConfig, EndpointConfig } from '../config/index.js';

/** A connect attempt that failed or timed out. The errno (ECONNREFUSED, ENOTFOUND) is kept. */
export class UpstreamConnectError extends LifelineError {
  readonly errno: string | undefined;
  constructor(endpoint: string, cause: unknown, timedOut: boolean) {
    const errno = (cause as { code?: unknown } | undefined)?.code;
    super(
      timedOut ? 'ERR_UPSTREAM_CONNECT_TIMEOUT' : 'ERR_UPSTREAM_CONNECT',
      `${timedOut ? 'timed out connecting' : 'could not connect'} to ${endpoint}${typeof errno === 'string' ? ` (${errno})` : ''}`,
      { cause },
    );
    this.errno = timedOut ? 'ETIMEDOUT' : typeof errno === 'string' ? errno : undefined;
  }
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
