/**
 * Dialing the tunnel server: resolve, TCP connect, TLS 1.3 handshake, certificate check, and for
 * `wss` the WebSocket upgrade. Returns a FrameTransport or throws.
 *
 * Invariants:
 * - The host name is resolved here, on every call (a server that moved is found on the next
 *   attempt; systemd#9911-style "resolved once" bugs cannot happen). The TLS servername (SNI and
 *   certificate name check) stays the name.
 * - With a pinned fingerprint, the chain is not checked against CAs; the leaf's SHA-256 must equal
 *   the pin, and the connection is destroyed before anything is sent on a mismatch
 *   (TunnelAuthError ERR_TUNNEL_FINGERPRINT). Without a pin, normal CA verification applies.
 * - TCP keepalive and TCP_USER_TIMEOUT are set on the raw socket before TLS starts.
 * - The whole dial is bounded by connectTimeoutMs; on timeout every socket is destroyed.
 */
import { promises as dns } from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import type { Clock } from '../core/clock.js';
import { setTcpKeepAlive } from '../transport/tcp-keepalive.js';
import type { TcpKeepAliveOnOptions } from '../transport/tcp-keepalive.js';
import { TunnelAuthError, TunnelError } from './errors.js';
import { TlsTransport, WsTransport } from './transport.js';
import type { FrameTransport } from './transport.js';

export interface DialOptions {
  host: string;
  port: number;
  transport: 'tls' | 'wss';
  wsPath: string;
  /** Normalised `AB:CD:...` fingerprint to pin, or undefined for CA verification. */
  fingerprint: string | undefined;
  ca: string | Buffer | undefined;
  /** Client certificate and key (certificate authentication). */
  cert: string | Buffer | undefined;
  key: string | Buffer | undefined;
  servername: string | undefined;
  connectTimeoutMs: number;
  tcpKeepAlive: TcpKeepAliveOnOptions | undefined;
  lookup: (host: string) => Promise<string>;
  clock: Clock;
  /** Aborting destroys every socket of the attempt and rejects. */
  signal?: AbortSignal;
}

export interface Dialed {
  transport: FrameTransport;
  /** The address the name resolved to on this attempt. */
  address: string;
  keepAliveWarning: string | undefined;
}

export const defaultClientLookup = async (host: string): Promise<string> => (await dns.lookup(host)).address;

function checkPin(socket: TLSSocket, fingerprint: string | undefined): TunnelAuthError | undefined {
  if (fingerprint === undefined) return undefined;
  const got = socket.getPeerCertificate().fingerprint256;
  if (got === fingerprint) return undefined;
  return new TunnelAuthError('ERR_TUNNEL_FINGERPRINT', `server certificate fingerprint ${got ?? '(none)'} is not the pinned ${fingerprint}`);
}

/**
 * @example const { transport } = await dialTunnel({ host: 'vpn.example', port: 7000, transport: 'tls', ... });
 */
export async function dialTunnel(o: DialOptions): Promise<Dialed> {
  const address = net.isIP(o.host) !== 0 ? o.host : await o.lookup(o.host);
  const servername = o.servername ?? (net.isIP(o.host) === 0 ? o.host : undefined);
  const sockets: net.Socket[] = [];
  let keepAliveWarning: string | undefined;
  let ws: WebSocket | undefined;
  const tlsOptions = (raw: net.Socket): tls.ConnectionOptions => ({
    socket: raw,
    minVersion: 'TLSv1.3',
    rejectUnauthorized: o.fingerprint === undefined,
    ...(servername === undefined ? {} : { servername }),
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.cert === undefined ? {} : { cert: o.cert }),
    ...(o.key === undefined ? {} : { key: o.key }),
  });
  const rawConnect = (): net.Socket => {
    // Not added to `sockets`: destroying a TCP socket under a live TLS socket crashes Node 20
    // (SIGSEGV, measured); destroying the TLS socket closes the TCP socket too.
    const raw = net.connect({ host: address, port: o.port, noDelay: true });
    if (o.tcpKeepAlive !== undefined) {
      try {
        const r = setTcpKeepAlive(raw, o.tcpKeepAlive);
        if (r.mechanism !== 'native') keepAliveWarning = 'TCP keepalive: only the idle time could be set (native addon missing)';
      } catch (error) {
        keepAliveWarning = `TCP keepalive not set: ${(error as Error).message}`;
      }
    }
    return raw;
  };
  let timer: { cancel(): void } | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = o.clock.setTimer(() => reject(new TunnelError('ERR_TUNNEL_TIMEOUT', `connecting to ${o.host}:${o.port} (${address}) timed out after ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    onAbort = () => reject(new TunnelError('ERR_TUNNEL_CLOSED', 'dial aborted'));
    if (o.signal?.aborted === true) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
  const attempt = async (): Promise<FrameTransport> => {
    if (o.transport === 'tls') {
      const socket = tls.connect(tlsOptions(rawConnect()));
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
        socket.once('close', () => reject(new TunnelError('ERR_TUNNEL_CLOSED', 'closed during the TLS handshake')));
      });
      const pinError = checkPin(socket, o.fingerprint);
      if (pinError !== undefined) throw pinError;
      return new TlsTransport(socket, `${address}:${o.port}`); // its own read buffer and batch pool
    }
    let tlsSocket: TLSSocket | undefined;
    let pinError: TunnelAuthError | undefined;
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    ws = new WebSocket(`wss://${host}:${o.port}${o.wsPath}`, {
      perMessageDeflate: false,
      maxPayload: 1 << 20,
      createConnection: () => {
        const socket = tls.connect(tlsOptions(rawConnect()));
        sockets.push(socket);
        tlsSocket = socket;
        socket.once('secureConnect', () => {
          pinError = checkPin(socket, o.fingerprint);
          if (pinError !== undefined) socket.destroy(pinError);
        });
        return socket;
      },
    });
    const opened = ws;
    await new Promise<void>((resolve, reject) => {
      opened.once('open', resolve);
      opened.once('error', (error) => reject(pinError ?? error));
      opened.once('close', () => reject(pinError ?? new TunnelError('ERR_TUNNEL_CLOSED', 'closed during the WebSocket upgrade')));
    });
    if (tlsSocket === undefined) throw new TunnelError('ERR_TUNNEL_CLOSED', 'no TLS socket under the WebSocket');
    return new WsTransport(opened, tlsSocket, `${address}:${o.port}`);
  };
  try {
    const transport = await Promise.race([attempt(), timeout]);
    return { transport, address, keepAliveWarning };
  } catch (error) {
    ws?.terminate();
    for (const s of sockets) s.destroy();
    throw error;
  } finally {
    timer?.cancel();
    if (onAbort !== undefined) o.signal?.removeEventListener('abort', onAbort);
  }
}
