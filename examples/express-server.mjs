// An Express app with lifeline's server keep-alive policy and a graceful drain on SIGTERM.
// Shown in README.md and docs/server.md. Run: node examples/express-server.mjs (PORT=8080 by
// default; PORT=0 picks a free port). Needs `npm install express`.
import express from 'express';
import { keepAlive } from 'lifeline-keepalive/server';

const app = express();
app.get('/', (req, res) => res.send('ok'));

const server = app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
const policy = keepAlive(server, {
  idleTimeoutMs: 75_000, // above the ALB's 60 s
  maxConnections: 10_000, // evict idle ones first, then 503
  headersTimeoutMs: 10_000,
});
app.get('/healthz/stats', (req, res) => res.json(policy.stats()));
process.once('SIGTERM', async () => {
  console.log('drained', await policy.drain({ timeoutMs: 30_000, spreadMs: 5_000 }));
  process.exit(0);
});
