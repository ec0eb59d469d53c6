// A Fastify app with lifeline's server keep-alive policy: Fastify's `server` is the Node
// http.Server, so keepAlive() takes it as it is. Shown in docs/server.md. Run:
// node examples/fastify-server.mjs (PORT=8080 by default). Needs `npm install fastify`.
import Fastify from 'fastify';
import { keepAlive } from 'lifeline-keepalive/server';

const app = Fastify();
app.get('/', async () => 'ok');

const policy = keepAlive(app.server, { idleTimeoutMs: 75_000, maxConnections: 10_000, headersTimeoutMs: 10_000 });
app.get('/healthz/stats', async () => policy.stats());
const address = await app.listen({ port: Number(process.env.PORT ?? 8080), host: '127.0.0.1' });
console.log(`listening on ${address}`);
process.once('SIGTERM', async () => {
  console.log('drained', await policy.drain({ timeoutMs: 30_000, spreadMs: 5_000 }));
  await app.close();
});
