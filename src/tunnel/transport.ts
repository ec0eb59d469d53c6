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
import { BufferPool, WriteBatcher } from '../transport/write-batcher.js';
import { readIntoBuffer } from '../transport/user-read-buffer.js';
import { EXPORTER_BYTES, EXPORTER_LABEL } from './auth.js';
import { HEADER_BYTES, MAX_DATA_PAYLOAD } from './frame.js';

/** How long a graceful end may take before the socket is destroyed, ms. */
const END_GRACE_MS = 2000;
/** Size of one output batch: four full DATA frames. */
export const OUTPUT_BATCH_BYTES = 4 * (HEADER_BYTES + MAX_DATA_PAYLOAD);
/** A frame up to this size, with nothing queued before it, is written directly (interactive
 * traffic: a session that only pings never takes a batch buffer). Larger ones go through a batch:
 * their joined copy would be an ArrayBuffer of its own (Node pools only those under 4 KiB), the
 * churn the batches exist to avoid. */
const DIRECT_WRITE_MAX_BYTES = 4096;
/** Size of the read buffer a process's TLS sessions share: one TLS record's plaintext at most. */
export const TLS_READ_BUFFER_BYTES = 16_384;
/** Output batch buffers one process keeps for reuse at most, whatever its number of sessions
 * (they go back to two within seconds of the load stopping: BufferPool). */
const SHARED_SPARE_BATCHES = 64;
/** Buffers DATA is copied into for the local sockets (see Mux), and how many a process keeps at
 * most: a stream whose local reader is slow holds up to its window in them. */
const DELIVERY_BATCH_BYTES = 65_536;
const SHARED_SPARE_DELIVERIES = 1024;

/**
 * The buffers the sessions of one process share, so what a process keeps for reuse is bounded per
 * process, not per session (a server with many sessions), and a busy session allocates nothing:
 * the TLS read buffer (reads are handled one at a time), the output batches, the DATA deliveries.
 */
export class SessionBuffers {
  readonly tlsRead = Buffer.allocUnsafeSlow(TLS_READ_BUFFER_BYTES);
  readonly batches = new BufferPool(OUTPUT_BATCH_BYTES, SHARED_SPARE_BATCHES);
  readonly deliveries = new BufferPool(DELIVERY_BATCH_BYTES, SHARED_SPARE_DELIVERIES);

  /** Let go of the pooled buffers (the owner closed). */
  clear(): void {
    this.batches.clear();
    this.deliveries.clear();
  }
}

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
  /** Each chunk read. It may be a view of a reused buffer, valid only during the call: copy
   * what must outlive it. */
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
 * Output: frames are copied into batches (`WriteBatcher`) handed to TLS one at a time. Why: Node
 * completes every TLS write on the next turn, so writes issued meanwhile would queue up and go
 * down as a writev, which Node joins into a fresh allocation before encrypting (a copy, an mmap
 * and page faults for each large write). Batched, each byte is copied once into a reused buffer,
 * TLS gets large writes (full 16 KiB records, one syscall for several frames), and a bulk
 * transfer allocates no per-frame memory for the GC to chase (measured: the largest CPU cost of
 * the sending side). A frame alone, with nothing held or outstanding, is written directly.
 *
 * Input: decrypted reads land in one read buffer (the process's, with `buffers`; else the
 * session's own) instead of a fresh allocation per 16 KiB record, which on the receiving end of a
 * bulk transfer was a major GC every few tens of ms (measured); `onData` chunks are views valid
 * only during the call.
 * @example const t = new TlsTransport(tls.connect({ socket: raw, minVersion: 'TLSv1.3' }), 'host:443', buffers);
 */
export class TlsTransport implements FrameTransport {
  readonly kind = 'tls';
  readonly tlsSocket: TLSSocket;
  readonly remoteAddress: string;
  #closed = false;
  #error: Error | undefined;
  #onClose: ((error: Error | undefined) => void) | undefined;
  readonly #out: WriteBatcher;
  readonly #buffers: SessionBuffers;
  /** The buffers are this session's own (no `buffers` given): let go of them on close. */
  readonly #ownBuffers: boolean;

  constructor(socket: TLSSocket, remoteAddress?: string, buffers?: SessionBuffers) {
    this.tlsSocket = socket;
    this.remoteAddress = remoteAddress ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.#ownBuffers = buffers === undefined;
    this.#buffers = buffers ?? new SessionBuffers();
    this.#out = new WriteBatcher(socket, this.#buffers.batches);
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
    return this.tlsSocket.writableLength + this.#out.heldBytes;
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    if (this.#out.busy) this.#out.append(frame);
    else this.tlsSocket.write(frame);
  }

  writeParts(header: Buffer, payload: Buffer): void {
    if (this.closed) return;
    const bytes = header.length + payload.length;
    // A small frame alone (interactive traffic): no batch buffer for it.
    if (bytes <= DIRECT_WRITE_MAX_BYTES && !this.#out.busy) this.tlsSocket.write(Buffer.concat([header, payload], bytes));
    else this.#out.append(header, payload);
  }

  #drop(): void {
    this.#out.drop();
    if (this.#ownBuffers) this.#buffers.clear();
  }

  onData(callback: (chunk: Buffer) => void): void {
    const socket = this.tlsSocket;
    const buffer = this.#buffers.tlsRead;
    // Bytes Node already read (before we were handed the socket) go first, then reads land in
    // the read buffer. Where Node does not allow that, 'data' events as usual.
    const early = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
    const switched = readIntoBuffer(socket, buffer, (nread) => {
      callback(buffer.subarray(0, nread));
      return true;
    });
    if (early !== null) callback(early);
    if (switched) socket.resume(); // keeps the handle reading, and lets 'end' and 'close' come
    else socket.on('data', callback);
  }

  onDrain(callback: () => void): void {
    this.tlsSocket.on('drain', callback);
  }

  onClose(callback: (error: Error | undefined) => void): void {
    this.#onClose = callback;
    if (this.#closed) callback(this.#error);
  }

  end(): void {
    // What is still held goes to TLS now, in order, behind the outstanding write.
    this.#out.flushAll();
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
