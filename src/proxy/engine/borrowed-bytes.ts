/**
 * The one choke point for borrowed bytes. Plain-TCP sockets read into one shared buffer (see
 * PoolHost.readBuffer): a chunk from it is a view valid only during the read callback. Every
 * place that keeps such bytes, or hands them to a write (which may hold them after the call),
 * passes them through `owned()`, which copies exactly when they are borrowed.
 */

/** `chunk` itself when it is the caller's, a copy when it is a view of the shared read buffer. */
export function owned(chunk: Buffer, shared: boolean): Buffer {
  return shared ? Buffer.from(chunk) : chunk;
}
