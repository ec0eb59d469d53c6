/**
 * Make an accepted socket read into a caller's buffer: what `net.connect`'s public `onread`
 * option does for sockets we open, which `net.Server` has no option for.
 *
 * Why: without it every read allocates a fresh buffer (64 KiB, shrunk to what arrived), and each
 * becomes an ArrayBuffer that the young-generation GC sweeps inside its pause; on a proxy pinned
 * to one core (V8's concurrent sweeper has no spare core) that sweep was most of every pause, and
 * those pauses were most of the p99. With one shared buffer a read allocates nothing.
 *
 * Relies on Node internals, feature-detected: net.Socket's `kBuffer`/`kBufferCb`/`kBufferGen`
 * symbols (found by description on a probe socket built with the public `onread` option) and the
 * stream handle's `useUserBuffer`. When either is missing, `readIntoBuffer` returns false and the
 * caller keeps its 'data' listener. Works for a TLSSocket too: its handle (Node's TLSWrap) is a
 * stream handle with the same `useUserBuffer`, and hands each decrypted read to that buffer; a
 * tls.Server has no `onread` option either (it wraps the accepted socket, and TLSSocket ignores
 * `onread` when given one).
 *
 * Contract for `onRead`: it is called as a method of the socket (`this` is the socket) with the
 * byte count; the bytes are `buffer.subarray(0, nread)`, valid only until it returns, so what must
 * outlive the call is copied. Pause and resume keep working (Node stops and starts the handle).
 */
import net from 'node:net';

interface Symbols {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

let found: Symbols | null | undefined;

function symbols(): Symbols | null {
  if (found !== undefined) return found;
  // The constructor takes `onread` as net.connect does; @types/node lists it for connect only.
  const options = { onread: { buffer: Buffer.alloc(1), callback: () => true } };
  const probe = new net.Socket(options as net.SocketConstructorOpts);
  const own = Object.getOwnPropertySymbols(probe);
  const named = (description: string): symbol | undefined => own.find((s) => s.description === description);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  const fields = probe as unknown as Record<symbol, unknown>;
  found = buffer !== undefined && callback !== undefined && generator !== undefined && Buffer.isBuffer(fields[buffer]) && typeof fields[callback] === 'function' ? { buffer, callback, generator } : null;
  probe.destroy();
  return found;
}

/** True when accepted sockets can read into a caller's buffer on this Node. */
export function userReadBufferSupported(): boolean {
  return symbols() !== null;
}

/**
 * From now on `socket` reads into `buffer` and calls `onRead` instead of emitting 'data'.
 * Returns false (and changes nothing) when this Node does not allow it.
 */
export function readIntoBuffer<S extends net.Socket>(socket: S, buffer: Buffer, onRead: (this: S, nread: number) => boolean): boolean {
  const s = symbols();
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null })._handle;
  if (s === null || typeof handle?.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[s.buffer] = buffer;
  fields[s.callback] = onRead;
  fields[s.generator] = null;
  handle.useUserBuffer(buffer);
  return true;
}
