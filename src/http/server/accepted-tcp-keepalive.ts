/**
 * TCP keepalive on every socket a server accepts (nginx's `listen ... so_keepalive=`), for the
 * HTTP/1 and HTTP/2 policies. Off unless asked for, as in nginx and Node.
 *
 * Why at the TCP level too: the policy's idle timeout closes a connection that is quiet by choice;
 * TCP keepalive with TCP_USER_TIMEOUT finds a peer that vanished while the server waited on it (a
 * response stuck behind unacknowledged data, a long poll with nothing to send), and its probes
 * keep NAT and firewall state alive between requests.
 *
 * Set on the raw TCP socket from the server's 'connection' event (for TLS servers that is before
 * the handshake), ahead of the other listeners.
 */
import type { Server, Socket } from 'node:net';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import type { TcpKeepAliveOptions } from '../../transport/tcp-keepalive.js';

/** Apply `options` (validated already) to each accepted socket; returns the detach function. */
export function keepAliveOnAccept(server: Server, options: Readonly<TcpKeepAliveOptions>): () => void {
  const apply = (socket: Socket): void => {
    try {
      setTcpKeepAlive(socket, options);
    } catch {
      // Gone already (nothing to do), or the kernel refused a validated value: close it rather
      // than keep a connection without the bound the operator asked for.
      socket.destroy();
    }
  };
  server.prependListener('connection', apply);
  return () => server.removeListener('connection', apply);
}
