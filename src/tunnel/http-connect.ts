/**
 * HTTP CONNECT proxy handshake (RFC 9110 9.3.6): `CONNECT host:port HTTP/1.1` and headers, then
 * `200 Connection Established` once the server opened the stream, and raw bytes both ways.
 *
 * Only CONNECT is served (405 otherwise: this is a tunnel entry, not a forward proxy). Failure
 * replies map the server's SOCKS5 code: not allowed -> 403, timeout -> 504, others -> 502.
 */
import type { Socket } from 'node:net';
import { destination } from './address.js';
import type { ByteReader } from './byte-reader.js';
import { TunnelError } from './errors.js';
import type { EntryRequest } from './socks5.js';

const MAX_HEAD = 16_384;

function status(reply: number): string {
  switch (reply) {
    case 2:
      return '403 Forbidden';
    case 6:
      return '504 Gateway Timeout';
    default:
      return '502 Bad Gateway';
  }
}

/**
 * @example const req = await httpConnectHandshake(socket, reader); reader.release(); req.answer(0);
 */
export async function httpConnectHandshake(socket: Socket, reader: ByteReader): Promise<EntryRequest> {
  const head = (await reader.until('\r\n\r\n', MAX_HEAD)).toString('latin1');
  const line = head.slice(0, head.indexOf('\r\n'));
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (m === null) {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', 'malformed HTTP request line');
  }
  if (m[1] !== 'CONNECT') {
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: CONNECT\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `method ${m[1] ?? ''}; only CONNECT`);
  }
  const target = m[2] as string;
  const hp = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(target);
  let dest;
  try {
    if (hp === null) throw new Error('no port');
    dest = destination(hp[1] as string, Number(hp[2]), 'CONNECT target');
  } catch {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `bad CONNECT target ${JSON.stringify(target)}`);
  }
  return {
    destination: dest,
    answer: (reply) => {
      if (reply === 0) socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      else socket.end(`HTTP/1.1 ${status(reply)}\r\nconnection: close\r\ncontent-length: 0\r\nx-lifeline-reply: ${reply}\r\n\r\n`);
    },
  };
}
