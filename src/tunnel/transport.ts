/**
 * The byte pipe a tunnel session runs over: TLS 1.3 over TCP, or WebSocket over TLS (`wss`), behind
 * one small interface so sessions do not care which.
 *
 * Invariants: `onClose` fires exactly once, after which `write` is a no-op; `destroy` is idempotent.
 * For wss each `write` is one binary WebSocket message; the frame decoder treats messages as
 * chunks of a byte stream, so message boundaries carry no meaning.
 */
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import { systemClock } from '../core/clock.js';
import { EXPORTER_BYTES, EXPORTER_LABEL } from './auth.js';

/** How long a graceful end may take before the socket is destroyed, ms. */
const END_GRACE_MS = 2000;

export interface FrameTransport {
  readonly kind: 'tls' | 'wss';
  readonly remoteAddress: string;
  /** The TLS socket (for the peer certificate and the keying-material exporter). */
  readonly tlsSocket: TLSSocket;
  write(frame: Buffer): void;
  /** Write one frame given as header and payload, without joining them in JS first. */
  writeParts(header: Buffer, payload: Buffer): void;
  /** Bytes accepted by `write` and not yet handed to the kernel (0 when unknown: wss). */
  readonly bufferedBytes: number;
  onData(callback: (chunk: Buffer) => void): void;
  /** Called when queued bytes were flushed after a write returned false (TLS only). */
  onDrain(callback: () => void): void;
  onClose(callback: (error: Error | undefined) => void): void;
  /** Graceful: flush, then close. */
  end(): void;
  destroy(error?: Error): void;
  readonly closed: boolean;
}

/** 32 bytes of keying material bound to this TLS connection (see auth.ts). */
export function channelBinding(t: FrameTransport): Buffer {
  return t.tlsSocket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
}

/**
 * A session over a TLS socket.
 * @example const t = new TlsTransport(tls.connect({ socket: raw, minVersion: 'TLSv1.3' }));
 */
export class TlsTransport implements FrameTransport {
  readonly kind = 'tls';
  readonly tlsSocket: TLSSocket;
  readonly remoteAddress: string;
  #closed = false;
  #error: Error | undefined;
  #onClose: ((error: Error | undefined) => void) | undefined;

  constructor(socket: TLSSocket, remoteAddress?: string) {
    this.tlsSocket = socket;
    this.remoteAddress = remoteAddress ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    socket.on('error', (error: Error) => {
      this.#error ??= error;
    });
    socket.once('close', () => {
      this.#closed = true;
      this.#onClose?.(this.#error);
    });
  }

  get closed(): boolean {
    return this.#closed || this.tlsSocket.destroyed;
  }

  get bufferedBytes(): number {
    return this.tlsSocket.writableLength;
  }

  write(frame: Buffer): void {
    if (!this.closed) this.tlsSocket.write(frame);
  }

  writeParts(header: Buffer, payload: Buffer): void {
    if (this.closed) return;
    // Corked writes reach TLS as one writev (copied into one buffer in C++, not in JS). Batching
    // all frames of an event-loop turn into one writev was tried and measured no faster.
    this.tlsSocket.cork();
    this.tlsSocket.write(header);
    this.tlsSocket.write(payload);
    this.tlsSocket.uncork();
  }

  onData(callback: (chunk: Buffer) => void): void {
    this.tlsSocket.on('data', callback);
  }

  onDrain(callback: () => void): void {
    this.tlsSocket.on('drain', callback);
  }

  onClose(callback: (error: Error | undefined) => void): void {
    this.#onClose = callback;
    if (this.#closed) callback(this.#error);
  }

  end(): void {
    this.tlsSocket.end();
    // A peer that never answers our close must not hold the socket: destroy after a grace period.
    systemClock.setTimer(() => this.tlsSocket.destroy(), END_GRACE_MS);
  }

  destroy(error?: Error): void {
    if (error !== undefined) this.#error ??= error;
    this.tlsSocket.destroy();
  }
}

/**
 * A session over a WebSocket (binary messages) whose underlying socket is TLS.
 * @example new WsTransport(ws, req.socket as TLSSocket)
 */
export class WsTransport implements FrameTransport {
  readonly kind = 'wss';
  readonly tlsSocket: TLSSocket;
  readonly remoteAddress: string;
  readonly #ws: WebSocket;
  #closed = false;
  #error: Error | undefined;
  #onClose: ((error: Error | undefined) => void) | undefined;

  constructor(ws: WebSocket, tlsSocket: TLSSocket, remoteAddress?: string) {
    this.#ws = ws;
    this.tlsSocket = tlsSocket;
    this.remoteAddress = remoteAddress ?? `${tlsSocket.remoteAddress ?? '?'}:${tlsSocket.remotePort ?? 0}`;
    ws.on('error', (error: Error) => {
      this.#error ??= error;
    });
    ws.once('close', () => {
      this.#closed = true;
      this.#onClose?.(this.#error);
    });
  }

  get closed(): boolean {
    return this.#closed || this.#ws.readyState !== 1;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  write(frame: Buffer): void {
    if (!this.closed) this.#ws.send(frame, { binary: true });
  }

  writeParts(header: Buffer, payload: Buffer): void {
    if (!this.closed) this.#ws.send(Buffer.concat([header, payload]), { binary: true });
  }

  onData(callback: (chunk: Buffer) => void): void {
    this.#ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      callback(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    });
  }

  onClose(callback: (error: Error | undefined) => void): void {
    this.#onClose = callback;
    if (this.#closed) callback(this.#error);
  }

  onDrain(): void {
    // ws has no drain event; streams are bounded by their credit windows alone.
  }

  end(): void {
    this.#ws.close(1000);
    systemClock.setTimer(() => this.#ws.terminate(), END_GRACE_MS);
  }

  destroy(error?: Error): void {
    if (error !== undefined) this.#error ??= error;
    this.#ws.terminate();
  }
}
