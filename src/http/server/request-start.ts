/**
 * Has a request begun on a connection waiting for one, and when?
 *
 * How "first byte of a request" is seen without a 'data' listener (which would take the socket
 * off Node's fast consume path, -20 % req/s measured): while a connection waits for a request its
 * deadline wakes every `checkMs` and asks Node's HTTP parser, which stamps the first byte of every
 * message (`parser.duration()`: ms since it, 0 between messages; the clock behind Node's own
 * headersTimeout). So the headers timeout counts from the exact first byte, and nothing is read
 * per request. A new connection is the exception: Node's parser counts it from accept, so there
 * `socket.bytesRead` (against its value at accept) says whether a byte came. Where the parser has
 * no duration() (not Node), bytesRead is sampled at every response end instead, and a request is
 * taken to have begun at the previous sample (up to checkMs early).
 */
import type { Socket } from 'node:net';
import type { Connection } from './connection-table.js';
import { parserDuration, parserHasClock } from './node-internals.js';

export class RequestStart {
  /** Node's parser tells when a request began; undefined until the first connection is seen. */
  #parserClock: boolean | undefined;

  /** Learn, from the first accepted socket (its parser in place), which way requests are seen. */
  learn(socket: Socket): void {
    this.#parserClock ??= parserHasClock(socket);
  }

  /** Without the parser's clock, bytesRead must be sampled at every response end. */
  get samplesBytes(): boolean {
    return this.#parserClock !== true;
  }

  /** When the request now being read began (ms, the caller's clock), or -1 if none has. */
  begun(conn: Connection, now: number): number {
    const socket = conn.socket;
    if (conn.requests === 0 || this.#parserClock !== true) {
      if (socket.bytesRead === conn.bytesAtCheck) return -1;
      const ms = this.#parserClock === true ? parserDuration(socket) : 0;
      return ms > 0 ? now - ms : conn.checkAt;
    }
    const ms = parserDuration(socket);
    return ms > 0 ? now - ms : -1;
  }
}
