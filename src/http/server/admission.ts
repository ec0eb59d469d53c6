/**
 * Admission at the connection cap (`maxConnections`): a newcomer is admitted when there is room,
 * or when room can be made by evicting the least recently used idle connection; otherwise it is
 * refused (503 + `Connection: close`, never handed to HTTP) with `whenFull: 'reject'` or during a
 * drain, or held unread until room frees with `whenFull: 'pause'` (see newcomer-queue.ts).
 *
 * Shared: it needs only a count of open connections, a way to evict one and a way to admit a
 * socket, so a server that owns raw sockets (the proxy) can admit the same way.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { rejectNewcomer } from './lingering-close.js';
import { NewcomerQueue } from './newcomer-queue.js';

export interface AdmissionOptions {
  clock: Clock;
  /** 0 = no cap. */
  maxConnections: number;
  whenFull: 'reject' | 'pause';
  /** How long a newcomer is held (`'pause'`) before it is refused. */
  holdMs: number;
  /** How long a refused newcomer may take to send the request its 503 answers. */
  refuseWaitMs: number;
}

export interface AdmissionHooks {
  /** Connections open now. */
  open(): number;
  /** Close one idle connection to make room; false when none is idle. */
  evictOne(): boolean;
  /** Hand the socket to the server. */
  admit(socket: Socket): void;
  /** Told of each refused newcomer (for a counter), before its 503. */
  refused?(socket: Socket): void;
}

export class Admission {
  readonly #o: AdmissionOptions;
  readonly #hooks: AdmissionHooks;
  readonly #queue: NewcomerQueue;
  /** Newcomers seen (admitted, held or refused) and refused. */
  accepted = 0;
  rejected = 0;
  /** Draining or closed: nobody is held any more, and nobody held is admitted. */
  #stopped = false;

  constructor(o: AdmissionOptions, hooks: AdmissionHooks) {
    this.#o = o;
    this.#hooks = hooks;
    this.#queue = new NewcomerQueue(o.clock, o.holdMs, (socket) => this.#refuse(socket));
  }

  /** Newcomers held now. */
  get queued(): number {
    return this.#queue.size;
  }

  /** A newcomer was accepted by the kernel. */
  accept(socket: Socket): void {
    this.accepted += 1;
    const max = this.#o.maxConnections;
    if (max > 0 && this.#hooks.open() >= max && !this.#hooks.evictOne()) {
      if (this.#o.whenFull === 'reject' || this.#stopped) this.#refuse(socket);
      else this.#queue.hold(socket);
      return;
    }
    this.#hooks.admit(socket);
  }

  /** Room may have freed (a close, an idle connection): admit held newcomers, oldest first. */
  admitHeld(): void {
    const max = this.#o.maxConnections;
    while (this.#queue.size > 0 && !this.#stopped && (this.#hooks.open() < max || this.#hooks.evictOne())) {
      const socket = this.#queue.take() as Socket;
      this.#hooks.admit(socket);
      socket.resume();
    }
  }

  /** A drain began: refuse every held newcomer, and refuse (not hold) later ones at the cap. */
  refuseHeld(): void {
    this.#stopped = true;
    for (let s = this.#queue.take(); s !== undefined; s = this.#queue.take()) this.#refuse(s);
  }

  /** The policy detaches: give each held newcomer to `to` (Node's own listener) and let it read. */
  releaseHeld(to: (socket: Socket) => void): void {
    this.#stopped = true;
    for (let s = this.#queue.take(); s !== undefined; s = this.#queue.take()) {
      to(s);
      s.resume();
    }
  }

  #refuse(socket: Socket): void {
    this.rejected += 1;
    this.#hooks.refused?.(socket);
    rejectNewcomer(socket, this.#o.clock, this.#o.refuseWaitMs);
  }
}
