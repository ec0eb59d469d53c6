/**
 * Child process for the server benchmark: a hello-world `http.Server`, with the lifeline policy
 * or without it. `node hello-server.js <plain|policy|policy-limit|plain-limit> <port>`; prints "ready" when listening.
 * SIGUSR2 runs a full GC (started with --expose-gc) so the parent reads a settled RSS.
 */
import http from 'node:http';
import { keepAlive } from '../../src/http/server/index.js';

const [mode = 'plain', port = '0'] = process.argv.slice(2);
const body = 'hello world';
const server = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(body);
});
if (mode === 'policy') {
  keepAlive(server); // defaults: idle 75 s, hint 70 s, no request limit, 1 h age, 60 s headers
} else if (mode === 'policy-limit') {
  keepAlive(server, { maxRequestsPerConnection: 1_000 }); // nginx's keepalive_requests default
} else if (mode === 'plain' || mode === 'plain-limit') {
  // Node's defaults, except an idle timeout as long as the policy's so both hold idle connections.
  server.keepAliveTimeout = 75_000;
  if (mode === 'plain-limit') server.maxRequestsPerSocket = 1_000;
} else {
  throw new Error(`unknown mode ${mode}: plain, policy, policy-limit or plain-limit`);
}
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  process.stdout.write('gc\n');
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
