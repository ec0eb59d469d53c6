/**
 * EntryListener: a local listening socket on the client that turns each accepted connection into a
 * tunnel stream: a SOCKS5 server, an HTTP CONNECT proxy, or a static forward (-L).
 *
 * Invariants: accepted sockets are allowHalfOpen (a FIN in one direction is carried through, not
 * turned into a close); a socket stays paused from the end of its handshake until the server has
 * answered the OPEN; `close()` stops listening and destroys every accepted socket.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { Clock } from '../core/clock.js';
import type { Destination } from './address.js';
import { formatDestination } from './address.js';
import { ByteReader } from './byte-reader.js';
import type { OpenResult } from './client-session.js';
import { httpConnectHandshake } from './http-connect.js';
import { socks5Handshake } from './socks5.js';
import type { EntryRequest } from './socks5.js';

export type EntryKind = 'socks5' | 'http-connect' | 'forward';

export interface EntryListenerOptions {
  kind: EntryKind;
  host: string;
  port: number;
  /** For `forward`: where every connection goes. */
  target?: Destination;
  open(destination: Destination, socket: Socket, accept: () => void): Promise<OpenResult>;
  handshakeTimeoutMs: number;
  clock: Clock;
  onEvent?: (event: { kind: EntryKind; destination?: string; reply?: number; message: string }) => void;
}

/**
 * @example
 *   const socks = await EntryListener.listen({ kind: 'socks5', host: '127.0.0.1', port: 1080, open: (d, s) => client.openStream(d, s), handshakeTimeoutMs: 10_000, clock });
 */
export class EntryListener {
  readonly kind: EntryKind;
  readonly server: net.Server;
  readonly #sockets = new Set<Socket>();
  readonly #o: EntryListenerOptions;

  private constructor(o: EntryListenerOptions) {
    this.kind = o.kind;
    this.#o = o;
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => void this.#handle(socket));
  }

  static async listen(o: EntryListenerOptions): Promise<EntryListener> {
    const l = new EntryListener(o);
    await new Promise<void>((resolve, reject) => {
      l.server.once('error', reject);
      l.server.listen(o.port, o.host, () => {
        l.server.off('error', reject);
        resolve();
      });
    });
    return l;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : { host: this.#o.host, port: 0 };
  }

  get connections(): number {
    return this.#sockets.size;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }

  async #handle(socket: Socket): Promise<void> {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    // Handshake replies are held while the bytes already read are parsed: a client that sends its
    // greeting and request together (and a pipelined open) gets all replies in one segment.
    socket.cork();
    const o = this.#o;
    let request: EntryRequest;
    const reader = new ByteReader(socket, o.handshakeTimeoutMs, o.clock);
    try {
      if (o.kind === 'socks5') request = await socks5Handshake(socket, reader);
      else if (o.kind === 'http-connect') request = await httpConnectHandshake(socket, reader);
      else request = { destination: o.target as Destination, answer: () => undefined };
    } catch (error) {
      while (socket.writableCorked > 0) socket.uncork();
      reader.release();
      o.onEvent?.({ kind: o.kind, message: `handshake failed: ${(error as Error).message}` });
      if (!socket.writableEnded) socket.destroy();
      return;
    }
    reader.release();
    // The success reply leaves as soon as it is written (a pipelined open answers before its OPEN
    // goes to the server, so the client's first bytes are on their way meanwhile).
    const opening = o.open(request.destination, socket, () => {
      request.answer(0);
      while (socket.writableCorked > 0) socket.uncork();
    });
    while (socket.writableCorked > 0) socket.uncork(); // the handshake's replies, if still held
    const result = await opening;
    if (socket.destroyed) return;
    if (result.reply !== 0) {
      o.onEvent?.({ kind: o.kind, destination: formatDestination(request.destination), reply: result.reply, message: result.message });
      request.answer(result.reply);
      if (o.kind === 'forward') socket.destroy();
      return;
    }
  }
}
