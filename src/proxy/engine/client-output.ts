/**
 * What goes out to an HTTP/1 client, beside the connection (http1-connection.ts) that decides
 * when: every byte written to the client socket, and the rule for ending the connection with a
 * plain close rather than a linger.
 *
 * Writes: a write the socket does not take at once (it returned false) tells the connection,
 * which stops reading the upstream until the client drains (`Http1Connection.pushback`).
 * Borrowed bytes (views of the shared read buffer) are copied first (borrowed-bytes.ts).
 */
import type { Socket } from 'node:net';
import type { RequestHead } from '../../http/wire/index.js';
import { probeSocket } from '../../transport/socket-probe.js';
import { writeOwned } from './borrowed-bytes.js';
import type { Exchange } from './exchange.js';
import type { Http1Connection } from './http1-connection.js';

/** Text (a head, a local answer) to the client. */
export function writeText(conn: Http1Connection, latin1: string): boolean {
  const ok = conn.socket.write(latin1, 'latin1');
  if (!ok) conn.pushback();
  return ok;
}

/** Bytes to the client; borrowed ones are copied. */
export function writeBytes(conn: Http1Connection, bytes: Buffer, shared: boolean): boolean {
  const ok = writeOwned(conn.socket, bytes, shared, conn.ctx.writePool);
  if (!ok) conn.pushback();
  return ok;
}

/** A head and a large first body piece in one corked writev. */
export function writeWithHead(conn: Http1Connection, head: string, first: Buffer, shared: boolean): boolean {
  const socket = conn.socket;
  socket.cork();
  socket.write(head, 'latin1');
  const ok = writeOwned(socket, first, shared, conn.ctx.writePool);
  socket.uncork();
  if (!ok) conn.pushback();
  return ok;
}

/**
 * Whether the connection may end with a plain close after this exchange, instead of lingering.
 *
 * Lingering (our FIN, then wait for the client's) keeps the RST that closing over unread bytes
 * sends from destroying a response the client has not read yet. A client that asked for the
 * close itself, whose request was read to its end and that sent nothing after it, may send
 * nothing more on this connection: once every byte of ours is with the kernel (plain TCP, no
 * TLS record still to flush), a plain close delivers them and the FIN. That saves a shutdown,
 * a wake-up for the client's FIN and its handling on every `Connection: close` request (nginx
 * closes such a connection at once too, when nothing more is to be read).
 * `buffered`: bytes read past the request and not yet handled.
 */
export function mayCloseAtOnce(socket: Socket, head: RequestHead, ex: Exchange, protocol: 'http' | 'https', buffered: number): boolean {
  if (!head.connectionClose || !ex.requestDone || protocol !== 'http' || buffered > 0 || socket.writableLength > 0) return false;
  // Nothing unread in the kernel either (an MSG_PEEK; without the native addon: linger). A
  // client that has already sent its FIN (it read our response and closed, as wrk and browsers
  // do) is waited for by nobody: its FIN is here, so nothing is unread and there is no RST.
  const probe = probeSocket(socket);
  return probe === 'open' || probe === 'eof';
}
