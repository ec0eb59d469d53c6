// TCP keepalive with full control on a client socket, read back with getsockopt. Shown in
// docs/transport.md. Run: node examples/tcp-keepalive.mjs HOST PORT (default 127.0.0.1 5432).
import net from 'node:net';
import { setTcpKeepAlive, getTcpKeepAlive } from 'lifeline-keepalive/transport';

const [host = '127.0.0.1', port = '5432'] = process.argv.slice(2);
const socket = net.connect(Number(port), host);
const result = setTcpKeepAlive(socket, { idleMs: 30_000, intervalMs: 5_000, count: 3, userTimeoutMs: 45_000 });
console.log('set', result); // mechanism 'native' (or 'fallback' without the addon), deadAfterMs, pending
socket.on('connect', () => {
  console.log('read back', getTcpKeepAlive(socket)); // getsockopt, after the connect applied it
  socket.end();
});
socket.on('error', (error) => {
  console.error(error.message);
  process.exitCode = 1;
});
