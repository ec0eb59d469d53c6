// A plain node:http server with lifeline's keep-alive policy. Shown in docs/server.md.
// Run: node examples/http-server.mjs (PORT=8080 by default).
import http from 'node:http';
import { keepAlive } from 'lifeline-keepalive/server';

const server = http.createServer((req, res) => res.end('ok\n'));
const policy = keepAlive(server); // before or after listen()
server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.once('SIGTERM', async () => {
  const result = await policy.drain({ timeoutMs: 30_000, spreadMs: 5_000 });
  console.log('drained', result); // the process can now exit
});
