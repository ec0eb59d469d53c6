/**
 * SOCKS5 (RFC 1928) server side of the handshake, CONNECT only, no authentication (the SOCKS port
 * listens on localhost by default; the tunnel itself is authenticated).
 *
 * Address types: IPv4, IPv6 and domain names; a domain name is passed to the server unresolved
 * (so `curl --socks5-hostname` resolves on the server). Replies use the RFC's codes; 0x02 ("not
 * allowed by ruleset") when the server's allowlist refuses. BIND and UDP ASSOCIATE get 0x07.
 */
import type { Socket } from 'node:net';
import type { Destination } from './address.js';
import { isHostName, ipv6Text } from './address.js';
import type { ByteReader } from './byte-reader.js';
import { TunnelError } from './errors.js';

export interface EntryRequest {
  destination: Destination;
  /** Answer the client: `reply` 0 for success, else a SOCKS5 code (HTTP CONNECT maps it). */
  answer(reply: number): void;
}

/** The reply frame: VER REP RSV ATYP=1 BND.ADDR=0.0.0.0 BND.PORT=0. */
export function socks5Reply(reply: number): Buffer {
  return Buffer.from([5, reply, 0, 1, 0, 0, 0, 0, 0, 0]);
}

/**
 * Read the greeting and the request. Throws (after answering where the RFC says to) on anything
 * this server does not do.
 * @example const req = await socks5Handshake(socket, reader); reader.release(); ... req.answer(0);
 */
export async function socks5Handshake(socket: Socket, reader: ByteReader): Promise<EntryRequest> {
  const [version, nMethods] = await reader.exact(2);
  if (version !== 5) throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `SOCKS version ${String(version)}; only 5`);
  const methods = await reader.exact(nMethods ?? 0);
  if (!methods.includes(0)) {
    socket.end(Buffer.from([5, 0xff]));
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', 'SOCKS client offers no "no authentication" method');
  }
  socket.write(Buffer.from([5, 0]));
  const [v, command, , atyp] = await reader.exact(4);
  if (v !== 5) throw new TunnelError('ERR_TUNNEL_HANDSHAKE', 'bad SOCKS request version');
  let destination: Destination;
  if (atyp === 1) {
    const a = await reader.exact(6);
    destination = { kind: 'ipv4', host: [...a.subarray(0, 4)].join('.'), port: a.readUInt16BE(4) };
  } else if (atyp === 4) {
    const a = await reader.exact(18);
    destination = { kind: 'ipv6', host: ipv6Text(a.subarray(0, 16)), port: a.readUInt16BE(16) };
  } else if (atyp === 3) {
    const [n] = await reader.exact(1);
    const a = await reader.exact((n ?? 0) + 2);
    const host = a.toString('latin1', 0, n);
    if (!isHostName(host)) {
      socket.end(socks5Reply(4));
      throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `bad host name ${JSON.stringify(host)}`);
    }
    destination = { kind: 'domain', host, port: a.readUInt16BE(n ?? 0) };
  } else {
    socket.end(socks5Reply(8));
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `SOCKS address type ${String(atyp)}`);
  }
  if (command !== 1) {
    socket.end(socks5Reply(7));
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `SOCKS command ${String(command)}; only CONNECT`);
  }
  if (destination.port === 0) {
    socket.end(socks5Reply(4));
    throw new TunnelError('ERR_TUNNEL_HANDSHAKE', 'port 0');
  }
  return {
    destination,
    answer: (reply) => {
      if (reply === 0) socket.write(socks5Reply(0));
      else socket.end(socks5Reply(reply));
    },
  };
}
