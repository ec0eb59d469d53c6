/**
 * Answer a connection with one raw response (408, 503) and close it without a reset.
 *
 * Shared: each function takes only a socket and a clock, so the proxy's raw client connections
 * close the same way.
 *
 * Why "lingering": closing a socket whose receive buffer holds unread bytes makes the kernel send
 * RST, and an RST can make the client drop the response it has not read yet (the problem behind
 * Apache's lingering close). So: write the response, send FIN (`end()`), keep reading and
 * discarding until the client closes its side, and destroy at `lingerMs` at the latest.
 *
 * The HTTP parser is taken off the socket first (its 'data' and 'end' listeners are replaced;
 * adding a 'data' listener makes Node stop feeding the parser from the handle), so bytes that
 * arrive after the answer can never become a request the application sees.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { Clock } from '../../core/clock.js';

/**
 * Longest wait for the client's FIN after our answer: the one linger time of the server policy
 * and of the proxy's client side.
 *
 * Why 5 s, nginx's `lingering_timeout`: the proxy lingers after ordinary responses too (at a
 * request limit, while draining, after `Connection: close`), which may be large and still in
 * flight to a slow client; 5 s lets such a client read it and close. The cost is what a client
 * that never closes its side holds: one file descriptor for 5 s (at the connection cap, a
 * refused newcomer too).
 */
export const LINGER_MS = 5_000;

const cache = new Map<number, Buffer>();

/** The bytes of a bodiless `Connection: close` response with this status. */
export function rawResponse(status: number): Buffer {
  let bytes = cache.get(status);
  if (bytes === undefined) {
    const retry = status === 503 ? 'Retry-After: 1\r\n' : '';
    bytes = Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n${retry}\r\n`, 'latin1');
    cache.set(status, bytes);
  }
  return bytes;
}

const discard = (): void => undefined;

/**
 * Write `status` (unless `status` is 0 or the socket cannot be written), half-close, discard
 * inbound bytes, and destroy on the client's FIN or after `lingerMs`.
 * @example answerAndClose(socket, 408, clock) // slow headers
 */
export function answerAndClose(socket: Socket, status: number, clock: Clock, lingerMs = LINGER_MS): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.removeAllListeners('end');
  socket.on('data', discard);
  if (socket.listenerCount('error') === 0) socket.on('error', discard);
  const timer = clock.setTimer(() => socket.destroy(), lingerMs);
  socket.once('end', () => socket.destroy());
  socket.once('close', () => timer.cancel());
  if (status !== 0 && socket.writable) socket.write(rawResponse(status));
  socket.end();
  socket.resume();
}

/**
 * A newcomer refused at maxConnections, never handed to HTTP: wait for its first bytes (its
 * request), answer 503 + `Connection: close`, close without a reset. A newcomer that sends
 * nothing is destroyed after `waitMs`.
 */
export function rejectNewcomer(socket: Socket, clock: Clock, waitMs: number): void {
  socket.on('error', () => socket.destroy());
  const timer = clock.setTimer(() => socket.destroy(), waitMs);
  socket.once('close', () => timer.cancel());
  socket.once('data', () => {
    timer.cancel();
    answerAndClose(socket, 503, clock);
  });
  socket.resume();
}
