/**
 * Newcomers held at maxConnections (`whenFull: 'pause'`): accepted by the kernel, but paused and
 * not handed to HTTP until a connection frees, first come first served; each waits at most
 * `waitMs`, then `onExpire` (the controller answers 503).
 *
 * Why hold rather than stop accepting: Node cannot pause a listening socket's accept; a held socket
 * is read by nobody, so to its client the request simply waits, as in a full accept queue.
 */
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../core/clock.js';

export class NewcomerQueue {
  readonly #clock: Clock;
  readonly #waitMs: number;
  readonly #onExpire: (socket: Socket) => void;
  readonly #held = new Map<Socket, TimerHandle>();

  constructor(clock: Clock, waitMs: number, onExpire: (socket: Socket) => void) {
    this.#clock = clock;
    this.#waitMs = waitMs;
    this.#onExpire = onExpire;
  }

  get size(): number {
    return this.#held.size;
  }

  hold(socket: Socket): void {
    socket.pause();
    this.#held.set(
      socket,
      this.#clock.setTimer(() => {
        if (this.#held.delete(socket)) this.#onExpire(socket);
      }, this.#waitMs),
    );
    socket.once('close', () => this.#held.get(socket)?.cancel());
    socket.once('close', () => this.#held.delete(socket));
  }

  /** The longest-held newcomer, no longer held (still paused), or undefined. */
  take(): Socket | undefined {
    for (const [socket, timer] of this.#held) {
      timer.cancel();
      this.#held.delete(socket);
      return socket;
    }
    return undefined;
  }
}
