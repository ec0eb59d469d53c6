/**
 * ByteReader: read a handshake (SOCKS5, HTTP CONNECT) from a socket exactly, then hand the socket
 * back paused with any bytes read past the handshake pushed back (`unshift`), so an optimistic
 * client that sends data right behind its request loses nothing.
 *
 * Every read is bounded by the handshake deadline given to the constructor; a socket that closes
 * or errors mid-handshake rejects the pending read.
 */
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import { TunnelError } from './errors.js';

/**
 * @example
 *   const r = new ByteReader(socket, 10_000, clock);
 *   const head = await r.exact(2); ... r.release();
 */
export class ByteReader {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #error: Error | undefined;
  #timer: TimerHandle;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#wake?.();
  };
  readonly #onEnd = (): void => this.#fail(new TunnelError('ERR_TUNNEL_HANDSHAKE', 'connection closed during the handshake'));

  constructor(socket: Socket, timeoutMs: number, clock: Clock) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.once('end', this.#onEnd);
    socket.once('close', this.#onEnd);
    socket.on('error', (error) => this.#fail(error));
    this.#timer = clock.setTimer(() => {
      this.#fail(new TunnelError('ERR_TUNNEL_HANDSHAKE', `no complete handshake within ${timeoutMs} ms`));
      socket.destroy();
    }, timeoutMs);
  }

  /** Exactly `n` bytes. */
  async exact(n: number): Promise<Buffer> {
    await this.#until(() => this.#buffer.length >= n);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Bytes up to and including `delimiter`; throws past `max` bytes. */
  async until(delimiter: string, max: number): Promise<Buffer> {
    let index = -1;
    await this.#until(() => {
      index = this.#buffer.indexOf(delimiter);
      if (index < 0 && this.#buffer.length > max) throw new TunnelError('ERR_TUNNEL_HANDSHAKE', `handshake longer than ${max} bytes`);
      return index >= 0;
    });
    const end = index + delimiter.length;
    const out = this.#buffer.subarray(0, end);
    this.#buffer = this.#buffer.subarray(end);
    return out;
  }

  /** Stop reading: the socket is left paused, with unread bytes pushed back. */
  release(): void {
    this.#timer.cancel();
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.pause();
    if (this.#buffer.length > 0) this.#socket.unshift(this.#buffer);
    this.#buffer = Buffer.alloc(0);
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#wake?.();
  }

  async #until(ready: () => boolean): Promise<void> {
    for (;;) {
      if (ready()) return;
      if (this.#error !== undefined) throw this.#error;
      // Replies held (corked) while parsing what was already read go out before we wait for more,
      // and are held again while the bytes that woke us are parsed: one segment for the replies
      // to one read, so the client wakes once (a SOCKS5 greeting and request sent together get
      // the method reply and the request's reply together).
      while (this.#socket.writableCorked > 0) this.#socket.uncork();
      this.#socket.resume();
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
      this.#socket.cork();
    }
  }
}
