/**
 * Is an idle socket still fit to carry a new request? The stale-socket check that every pool
 * runs just before reuse.
 *
 * Why two levels: Node delivers a peer's FIN ('end') or RST ('error') only when the event loop
 * next polls, so a socket that looks fine in JavaScript may already be closed in the kernel. The
 * JavaScript flags catch what was delivered; a non-blocking MSG_PEEK recv (native addon) catches
 * what arrived since the last poll, without consuming a byte. What neither can catch is a FIN
 * still on the wire: that window is for the retry rules of the layers above.
 *
 * On an idle connection any readable byte is itself a reason to discard it: an HTTP server does
 * not speak first, so bytes there are a late response, garbage, or a close notice.
 */
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { NativeTcpBinding } from './native.js';
import { loadNativeTcp } from './native.js';

/** `open`: quiet and usable. Every other answer means: do not reuse. `unknown` only when the
 * kernel could not be asked (no addon, no fd) and the JavaScript state looked fine. */
export type SocketProbe = 'open' | 'unknown' | 'readable' | 'eof' | 'error' | 'destroyed';

/** What an addon built before PEEK_OPEN existed returns for a quiet socket: this platform's
 * -EAGAIN (-11 on Linux, -35 on macOS), never a hard-coded number. */
const LEGACY_QUIET = -constants.errno.EAGAIN;

interface HandleWithFd {
  fd?: unknown;
}

function fdOf(socket: Socket): number | undefined {
  // A TLSSocket's fd is on the underlying TCP handle; `_handle` is Node's private field.
  const handle = (socket as unknown as { _handle?: HandleWithFd | null; _parent?: { _handle?: HandleWithFd | null } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * `binding`: the native addon (default: loaded if built); pass null to use JavaScript state only.
 * @example
 *   const idle = pool.pop();
 *   if (probeSocket(idle) !== 'open' && probeSocket(idle) !== 'unknown') idle.destroy();
 */
export function probeSocket(socket: Socket, binding: NativeTcpBinding | null = loadNativeTcp() ?? null): SocketProbe {
  if (socket.destroyed) return 'destroyed';
  if (socket.errored !== null && socket.errored !== undefined) return 'error';
  if (socket.readableEnded || !socket.readable || !socket.writable) return 'eof';
  if (socket.readableLength > 0) return 'readable';
  const fd = fdOf(socket);
  if (binding?.peek === undefined || fd === undefined) return 'unknown';
  const result = binding.peek(fd);
  if (result === (binding.PEEK_OPEN ?? LEGACY_QUIET)) return 'open';
  if (result === 1) return 'readable';
  if (result === 0) return 'eof';
  return 'error';
}

/** True when a probe says the socket may carry a new request. */
export function isReusable(probe: SocketProbe): boolean {
  return probe === 'open' || probe === 'unknown';
}
