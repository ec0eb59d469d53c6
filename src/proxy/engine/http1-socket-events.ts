/**
 * The client socket's listeners, shared by every HTTP/1 connection: each finds its connection on
 * the socket, so an idle connection holds no closures (its memory is the socket plus one object).
 * Plain-TCP sockets read into the listener's one buffer (transport/user-read-buffer.ts).
 */
import type { Socket } from 'node:net';
import { readIntoBuffer } from '../../transport/user-read-buffer.js';
import type { Http1Connection } from './http1-connection.js';

const CONNECTION = Symbol('lifeline.http1Connection');
interface ClientSocket extends Socket {
  [CONNECTION]: Http1Connection;
}

function onData(this: ClientSocket, chunk: Buffer): void {
  this[CONNECTION].onBytes(chunk, false);
}

function onRead(this: ClientSocket, nread: number): boolean {
  const conn = this[CONNECTION];
  conn.onBytes((conn.ctx.readBuffer as Buffer).subarray(0, nread), true);
  return true; // keep reading
}

function onEnd(this: ClientSocket): void {
  this[CONNECTION].onClientEnd();
}

function onError(this: ClientSocket, error: Error): void {
  this[CONNECTION].onSocketError(error);
}

function onClose(this: ClientSocket): void {
  this[CONNECTION].onSocketClose();
}

function onDrain(this: ClientSocket): void {
  this[CONNECTION].onClientDrain();
}

/** Tie `socket` to `conn`: its bytes, FIN, errors and close go to the connection. */
export function attachClientSocket(socket: Socket, conn: Http1Connection, readBuffer: Buffer | undefined): void {
  const s = socket as ClientSocket;
  s[CONNECTION] = conn;
  socket.setNoDelay(true);
  // A socket that already holds unread bytes (a newcomer held at the cap) keeps 'data' events,
  // which deliver them; switching it to the shared buffer would strand them.
  if (readBuffer === undefined || socket.readableLength > 0 || !readIntoBuffer(s, readBuffer, onRead)) socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', onClose);
}

/**
 * The client's address, read once. Not `socket.remoteAddress`: that keeps its answer on the
 * socket (`_peername`, an object of three fields) for the socket's whole life, which an idle
 * connection pays for; the connection keeps only the address string. Falls back to it when the
 * handle has no `getpeername` (a Node without it, a socket already closed).
 */
export function peerAddress(socket: Socket): string {
  const handle = (socket as unknown as { _handle?: { getpeername?: (out: { address?: string }) => number } | null })._handle;
  if (typeof handle?.getpeername !== 'function') return socket.remoteAddress ?? '';
  const out: { address?: string } = {};
  return handle.getpeername(out) === 0 && typeof out.address === 'string' ? out.address : (socket.remoteAddress ?? '');
}

/** Untie `socket` from its connection (it goes on as HTTP/2): every listener above removed. */
export function detachClientSocket(socket: Socket): void {
  socket.off('data', onData);
  socket.off('end', onEnd);
  socket.off('error', onError);
  socket.off('close', onClose);
  socket.off('drain', onDrain);
}

/** Listen for 'drain' (only once the client first pushed back). */
export function listenForDrain(socket: Socket): void {
  socket.on('drain', onDrain);
}

/** The timer wheel's callback for a connection's deadline. */
export function onConnectionDeadline(this: void, _id: number, data: unknown): void {
  (data as Http1Connection).onDeadline();
}
