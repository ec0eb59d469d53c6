/**
 * ReuseGuard: watches a reused keep-alive socket from the moment a request is given to it until
 * the first response byte, so a request that meets a dead socket can be moved to a new one.
 *
 * Why this shape: Node's ClientRequest binds itself to one socket (parser, listeners, buffered
 * output) and reports a dead socket as ECONNRESET / "socket hang up" on itself, with no hook for
 * the agent. The guard sits in front of the socket's `emit` and `write` (own properties on that
 * one socket instance, removed again at the first response byte):
 * - `write` is recorded (up to a byte bound), so the exact request bytes can be sent again;
 * - a FIN (`'end'`), a reset-like error (ECONNRESET, EPIPE, ECONNABORTED) or a peer close that
 *   arrives before any `'data'` is taken away from the ClientRequest and handed to the pool, which
 *   either re-issues the request on a new socket or turns it into ERR_STALE_SOCKET.
 * Re-issuing (`detach` + `replayInto`): the listeners the ClientRequest (and code reacting to its
 * `'socket'` event) added to the socket since the guard was armed are removed, the socket forgets
 * the request, and the recorded bytes are put back in front of the request's output buffer; the
 * pool then calls `req.onSocket(newSocket)`, which runs Node's normal socket setup (new parser,
 * listeners, `'socket'` event) and flushes the buffer to the new socket.
 *
 * Invariants: one guard per request per socket; it never sees a response byte (it disarms on the
 * first `'data'`); after `disarm()` the socket's `emit`/`write` are the functions they were before
 * (kept as own properties of the socket, which keeps its V8 shape stable).
 */
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestInternals } from './node-internals.js';
import { socketInternals } from './node-internals.js';

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;
type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;
type Listener = (...args: unknown[]) => void;

/** How a reused socket showed it was dead. */
export interface StaleSignal {
  event: 'end' | 'error' | 'close';
  args: unknown[];
  /** The socket error, for `'error'`. */
  error: Error | undefined;
}

/** Error codes that mean "the peer closed or reset the connection". */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

interface Recorded {
  data: string | Uint8Array;
  encoding: BufferEncoding | undefined;
}

export class ReuseGuard {
  readonly socket: Socket;
  readonly req: ClientRequest;
  /** Request bytes written to the socket while armed. */
  bytes = 0;
  /** True when more than `maxBytes` were written: the request can no longer be replayed. */
  overflow = false;
  readonly #maxBytes: number;
  readonly #onStale: (guard: ReuseGuard, signal: StaleSignal) => void;
  readonly #baseline = new Map<string | symbol, unknown[]>();
  readonly #chunks: Recorded[] = [];
  readonly #emit: Emit;
  readonly #write: Write;
  #armed = true;

  constructor(socket: Socket, req: ClientRequest, maxBytes: number, onStale: (guard: ReuseGuard, signal: StaleSignal) => void) {
    this.socket = socket;
    this.req = req;
    this.#maxBytes = maxBytes;
    this.#onStale = onStale;
    for (const name of socket.eventNames()) this.#baseline.set(name, socket.rawListeners(name));
    const target = socket as unknown as { emit: Emit; write: Write };
    this.#emit = target.emit;
    this.#write = target.write;
    target.emit = this.#guardedEmit;
    target.write = this.#recordingWrite;
  }

  get armed(): boolean {
    return this.#armed;
  }

  /** Give the socket its own `emit`/`write` back. Idempotent. */
  disarm(): void {
    if (!this.#armed) return;
    this.#armed = false;
    // Assigned back rather than deleted: deleting an own property would push the socket object
    // into V8's slow dictionary mode for the rest of its life.
    const target = this.socket as unknown as { emit: Emit; write: Write };
    target.emit = this.#emit;
    target.write = this.#write;
  }

  /** Deliver a held-back signal to whoever still listens on the socket. */
  passThrough(signal: StaleSignal): void {
    this.#emit.call(this.socket, signal.event, ...signal.args);
  }

  /** Emit `error` on the socket (the ClientRequest's listener reports it on the request). */
  emitError(error: Error): void {
    this.#emit.call(this.socket, 'error', error);
  }

  /** Unbind the request from the socket: drop the listeners added since the guard was armed. */
  detach(): void {
    const socket = this.socket;
    for (const name of socket.eventNames()) {
      const before = this.#baseline.get(name) ?? [];
      for (const listener of socket.rawListeners(name)) {
        if (!before.includes(listener)) socket.removeListener(name, listener as Listener);
      }
    }
    const s = socketInternals(socket);
    s._httpMessage = null;
    s.parser = null;
  }

  /** Put the recorded request bytes back in front of the request's output buffer. */
  replayInto(req: RequestInternals): void {
    const chunks = this.#chunks.map((c) => ({ data: c.data, encoding: c.encoding, callback: null }));
    req.outputData = [...chunks, ...req.outputData];
    req.outputSize += chunks.reduce((sum, c) => sum + c.data.length, 0);
    this.#chunks.length = 0;
  }

  readonly #recordingWrite: Write = (chunk, encoding, callback) => {
    if (this.#armed) this.#record(chunk, encoding);
    return this.#write.call(this.socket, chunk, encoding, callback);
  };

  readonly #guardedEmit: Emit = (event, ...args) => {
    if (this.#armed) {
      if (event === 'data') {
        this.disarm();
      } else if (event === 'end' || event === 'error' || event === 'close') {
        const signal = this.#classify(event, args);
        this.disarm();
        if (signal !== undefined) {
          this.#onStale(this, signal);
          return true;
        }
      }
    }
    return this.#emit.call(this.socket, event, ...args);
  };

  #classify(event: 'end' | 'error' | 'close', args: unknown[]): StaleSignal | undefined {
    if (event === 'end') return { event, args, error: undefined };
    if (event === 'error') {
      const error = args[0] instanceof Error ? args[0] : undefined;
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      return code !== undefined && RESET_CODES.has(code) ? { event, args, error } : undefined;
    }
    // A bare 'close' is a peer close only if the peer's FIN was read; otherwise it was local.
    return socketInternals(this.socket)._readableState?.ended === true ? { event, args, error: undefined } : undefined;
  }

  #record(chunk: unknown, encoding: unknown): void {
    const enc = typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined;
    let size: number;
    if (typeof chunk === 'string') size = Buffer.byteLength(chunk, enc);
    else if (chunk instanceof Uint8Array) size = chunk.byteLength;
    else return;
    this.bytes += size;
    if (this.overflow) return;
    if (this.bytes > this.#maxBytes) {
      this.overflow = true;
      this.#chunks.length = 0;
      return;
    }
    this.#chunks.push({ data: chunk, encoding: enc });
  }
}
