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
import { HEADER_BYTES, MAX_DATA_PAYLOAD } from './frame.js';

/** How long a graceful end may take before the socket is destroyed, ms. */
const END_GRACE_MS = 2000;
/** Size of one output batch: four full DATA frames. */
export const OUTPUT_BATCH_BYTES = 4 * (HEADER_BYTES + MAX_DATA_PAYLOAD);
/** A batch smaller than this (control frames only) does not keep its buffer for reuse, so a
 * session that only pings holds no batch buffer. */
const KEEP_BATCH_MIN_BYTES = 16_384;
/** Batch buffers a busy session keeps for reuse. */
const MAX_SPARE_BATCHES = 4;

export interface FrameTransport {
  readonly kind: 'tls' | 'wss';
  readonly remoteAddress: string;
  /** The TLS socket (for the peer certificate and the keying-material exporter). */
  readonly tlsSocket: TLSSocket;
  /** Send one frame; the buffer is handed over (the caller does not reuse it). */
  write(frame: Buffer): void;
  /** Send one frame given as header and payload. Both are copied or consumed before this returns,
   * so the payload may be a view of a buffer the caller reuses (a socket's read buffer). */
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
 *
 * Output batching: frames are copied into a batch buffer and handed to TLS one batch at a time,
 * with at most one TLS write outstanding. Why: Node completes every TLS write on the next turn
 * (a setImmediate), so writes issued meanwhile queue up in the stream and go down as a writev,
 * which Node joins into a fresh allocation before encrypting (a copy, an mmap and page faults for
 * each large write). Here each byte is copied once, in JS, into a buffer that is reused once TLS
 * has taken it; TLS gets large writes (full 16 KiB records, one syscall for several frames); a
 * bulk transfer allocates no per-frame memory for the GC to chase (measured: the largest CPU
 * cost of the sending side). A batch is written at the end of the turn (check phase), or as soon
 * as the previous write completes, so no frame waits beyond the turn its predecessor took.
 * @example const t = new TlsTransport(tls.connect({ socket: raw, minVersion: 'TLSv1.3' }));
 */
export class TlsTransport implements FrameTransport {
  readonly kind = 'tls';
  readonly tlsSocket: TLSSocket;
  readonly remoteAddress: string;
  #closed = false;
  #error: Error | undefined;
  #onClose: ((error: Error | undefined) => void) | undefined;
  /** Full batches waiting for the outstanding write, in order; then the batch being filled. */
  readonly #ready: { buffer: Buffer; used: number }[] = [];
  #batch: Buffer | undefined;
  #batchUsed = 0;
  /** Bytes in `#ready` and the open batch, not yet handed to TLS. */
  #held = 0;
  #writing = false;
  #flushQueued = false;
  /** Batch buffers kept for reuse (a few, and only while busy). */
  readonly #spares: Buffer[] = [];
  readonly #flushNow = (): void => {
    this.#flushQueued = false;
    if (!this.#writing) this.#writeNext();
  };

  constructor(socket: TLSSocket, remoteAddress?: string) {
    this.tlsSocket = socket;
    this.remoteAddress = remoteAddress ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    socket.on('error', (error: Error) => {
      this.#error ??= error;
    });
    socket.once('close', () => {
      this.#closed = true;
      this.#drop();
      this.#onClose?.(this.#error);
    });
  }

  get closed(): boolean {
    return this.#closed || this.tlsSocket.destroyed;
  }

  get bufferedBytes(): number {
    return this.tlsSocket.writableLength + this.#held;
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    if (this.#batch === undefined && !this.#writing && this.#ready.length === 0) this.tlsSocket.write(frame);
    else this.#append(frame);
  }

  writeParts(header: Buffer, payload: Buffer): void {
    if (this.closed) return;
    const bytes = header.length + payload.length;
    if (bytes < KEEP_BATCH_MIN_BYTES && this.#batch === undefined && !this.#writing && this.#ready.length === 0) {
      // A small frame alone (interactive traffic): a batch buffer would be a large allocation.
      this.tlsSocket.write(Buffer.concat([header, payload], bytes));
      return;
    }
    if (this.#batch === undefined || this.#batch.length - this.#batchUsed < bytes) this.#open(bytes);
    this.#append(header);
    this.#append(payload);
  }

  /** Start a new batch with room for `bytes`; the current one, if any, joins the ready list. */
  #open(bytes: number): void {
    if (this.#batch !== undefined && this.#batchUsed > 0) this.#ready.push({ buffer: this.#batch, used: this.#batchUsed });
    const spare = this.#spares.pop();
    this.#batch = spare !== undefined && spare.length >= bytes ? spare : Buffer.allocUnsafeSlow(Math.max(bytes, OUTPUT_BATCH_BYTES));
    this.#batchUsed = 0;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      setImmediate(this.#flushNow);
    }
  }

  #append(b: Buffer): void {
    if (this.#batch === undefined || this.#batch.length - this.#batchUsed < b.length) this.#open(b.length);
    b.copy(this.#batch as Buffer, this.#batchUsed);
    this.#batchUsed += b.length;
    this.#held += b.length;
  }

  /** Hand the oldest batch to TLS; called when no write is outstanding. */
  #writeNext(): void {
    let next = this.#ready.shift();
    if (next === undefined && this.#batch !== undefined && this.#batchUsed > 0) {
      next = { buffer: this.#batch, used: this.#batchUsed };
      this.#batch = undefined;
      this.#batchUsed = 0;
    }
    if (next === undefined || this.closed) return;
    const { buffer, used } = next;
    this.#held -= used;
    this.#writing = true;
    this.tlsSocket.write(buffer.subarray(0, used), () => {
      this.#writing = false;
      if (this.closed || this.tlsSocket.writableEnded) return;
      if (used >= KEEP_BATCH_MIN_BYTES && this.#spares.length < MAX_SPARE_BATCHES) this.#spares.push(buffer);
      this.#writeNext();
    });
  }

  #drop(): void {
    this.#ready.length = 0;
    this.#batch = undefined;
    this.#batchUsed = 0;
    this.#held = 0;
    this.#spares.length = 0;
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
    // Batches still held go to TLS now, in order, behind the outstanding write (queued there).
    if (this.#batch !== undefined && this.#batchUsed > 0) this.#ready.push({ buffer: this.#batch, used: this.#batchUsed });
    for (const { buffer, used } of this.#ready) this.tlsSocket.write(buffer.subarray(0, used));
    this.#drop();
    this.tlsSocket.end();
    // A peer that never answers our close must not hold the socket: destroy after a grace period.
    systemClock.setTimer(() => this.tlsSocket.destroy(), END_GRACE_MS);
  }

  destroy(error?: Error): void {
    if (error !== undefined) this.#error ??= error;
    this.#drop();
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
