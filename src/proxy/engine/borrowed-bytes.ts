/**
 * The one choke point for borrowed bytes. Plain-TCP sockets read into one shared buffer (see
 * PoolHost.readBuffer): a chunk from it is a view valid only during the read callback. Every
 * place that keeps such bytes, or hands them to a write (which may hold them after the call),
 * passes them through `owned()`, which copies exactly when they are borrowed.
 */
import type { Writable } from 'node:stream';
import type { BufferPool } from '../../transport/write-batcher.js';

/** `chunk` itself when it is the caller's, a copy when it is a view of the shared read buffer. */
export function owned(chunk: Buffer, shared: boolean): Buffer {
  return shared ? Buffer.from(chunk) : chunk;
}

/** Borrowed pieces at least this large are copied into a pooled buffer, smaller ones with
 * `Buffer.from` (Node's own 8 KiB slabs serve those under 4 KiB). */
const POOLED_COPY_MIN_BYTES = 8192;

/**
 * `socket.write(owned(bytes, shared))`, with a large borrowed piece copied into a buffer from
 * `pool`, given back once the socket has written it. Why: a fresh 16-64 KiB buffer per piece is
 * an allocation malloc serves from pages it faults in and trims again, and young garbage for the
 * GC; with 64 KiB responses that was a sixth of the proxy's CPU in page faults (measured with perf).
 * A piece waits in its pooled buffer only while the socket is behind, which backpressure bounds.
 */
export function writeOwned(socket: Writable, bytes: Buffer, shared: boolean, pool: BufferPool): boolean {
  if (!shared) return socket.write(bytes);
  const n = bytes.length;
  if (n < POOLED_COPY_MIN_BYTES || n > pool.bufferBytes) return socket.write(Buffer.from(bytes));
  const copy = pool.take(n);
  bytes.copy(copy);
  return socket.write(copy.subarray(0, n), (error?: Error | null) => {
    if (error === undefined || error === null) pool.give(copy); // a failed write may still hold it
  });
}
