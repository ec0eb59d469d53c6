// The lease HTTP API mounted in a plain node:http server. Shown in docs/lease.md.
// Run: LEASE_TOKEN=$(openssl rand -hex 24) node examples/lease-http.mjs (PORT=8787 by default).
import http from 'node:http';
import { MemoryLeaseStore, createLeaseHttpHandler } from 'lifeline-keepalive/lease';

const store = new MemoryLeaseStore();
const api = createLeaseHttpHandler({ store, bearerToken: process.env.LEASE_TOKEN });
const server = http.createServer((req, res) => {
  if (!api(req, res)) res.writeHead(404).end(); // false: not one of the API's paths
});
server.listen(Number(process.env.PORT ?? 8787), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.once('SIGTERM', () => server.close(() => store.close()));
