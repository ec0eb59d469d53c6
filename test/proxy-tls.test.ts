/**
 * The proxy over TLS on both sides, and with several worker processes:
 * - an HTTPS listener (X-Forwarded-Proto: https) in front of an HTTPS backend whose certificate
 *   the cluster verifies with its caFile; new upstream TLS connections resume their session;
 * - `workers: 2`: two worker processes share the listener and every request is served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { makeTestCert } from './helpers/tls-certs.js';
import { spawnProxy } from './helpers/proxy-harness.js';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';

test('HTTPS in front, TLS to the backend with verification; new upstream connections resume', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-proxy-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const front = makeTestCert();
  const back = makeTestCert();
  for (const [name, data] of [['front.key', front.key], ['front.crt', front.cert], ['back.crt', back.cert]] as const) writeFileSync(join(dir, name), data);

  const backend = https.createServer({ key: back.key, cert: back.cert }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-proto': String(req.headers['x-forwarded-proto']) });
    res.end(`backend saw ${req.url ?? ''}`);
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.after(() => {
    backend.closeAllConnections();
    backend.close();
  });
  const port = (backend.address() as AddressInfo).port;
  // maxIdlePerEndpoint 0: every request opens a new upstream TLS connection, to show resumption.
  const yaml = `listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls: { certFile: ${join(dir, 'front.crt')}, keyFile: ${join(dir, 'front.key')} }
    routes: [{ cluster: secure }]
clusters:
  secure:
    endpoints: [{ address: "127.0.0.1:${port}" }]
    tls: { enabled: true, servername: localhost, caFile: ${join(dir, 'back.crt')} }
    pool: { maxIdlePerEndpoint: 0 }
accessLog: { target: "off" }
`;
  const proxy = await Proxy.start(parseConfig(yaml, join(dir, 'proxy.yaml'), {}));
  t.after(() => proxy.close());
  const agent = new https.Agent({ keepAlive: true, ca: front.cert });
  t.after(() => agent.destroy());
  const get = (path: string): Promise<{ status: number; proto: string; body: string }> =>
    new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: proxy.port(), path, servername: 'localhost', agent }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, proto: String(res.headers['x-proto']), body }));
        })
        .on('error', reject);
    });
  for (let i = 0; i < 5; i++) {
    const r = await get(`/s${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.proto, 'https');
    assert.equal(r.body, `backend saw /s${i}`);
  }
  const stats = proxy.tlsSessions.stats;
  assert.ok(stats.resumed >= 3, `upstream TLS resumptions: ${JSON.stringify(stats)}`);
});

test('a backend whose certificate the cluster cannot verify gets 502, not a silent downgrade', async (t) => {
  const unknown = makeTestCert();
  const backend = https.createServer({ key: unknown.key, cert: unknown.cert }, (_req, res) => res.end('should not be reached'));
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.after(() => {
    backend.closeAllConnections();
    backend.close();
  });
  const port = (backend.address() as AddressInfo).port;
  const proxy = await Proxy.start(
    parseConfig(
      `listeners: [{ name: m, address: "127.0.0.1:0", routes: [{ cluster: c }] }]\nclusters: { c: { endpoints: [{ address: "127.0.0.1:${port}" }], tls: { enabled: true } } }\naccessLog: { target: "off" }\n`,
      'x.yaml',
      {},
    ),
  );
  t.after(() => proxy.close());
  const res = await fetch(`http://127.0.0.1:${proxy.port()}/`);
  assert.equal(res.status, 502);
  assert.equal(res.headers.get('x-lifeline-error'), 'ERR_UPSTREAM_CONNECT');
});

test('workers: 2 runs two worker processes that share the listener; every request is served and both workers serve', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-workers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(
    file,
    `listeners: [{ name: m, address: "127.0.0.1:0", routes: [{ cluster: demo }] }]
clusters: { demo: { endpoints: [{ address: "127.0.0.1:19531" }, { address: "127.0.0.1:19532" }] } }
demo: { upstreams: ["127.0.0.1:19531", "127.0.0.1:19532"] }
workers: 2
accessLog: { target: ${JSON.stringify(join(dir, 'access.log'))} }
`,
  );
  const child = await spawnProxy(file);
  t.after(() => child.kill());
  await child.waitFor(/listening on[^\n]*\n[\s\S]*listening on/, 10_000);
  const workers = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim().split('\n').filter((l) => l !== '');
  assert.equal(workers.length, 2, `worker processes: ${workers.join(', ')}`);
  let ok = 0;
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const res = await fetch(`http://127.0.0.1:${child.port}/w${i}`, { headers: { connection: 'close' } });
      await res.text();
      return res.status;
    }),
  );
  for (const status of results) if (status === 200) ok += 1;
  assert.equal(ok, 200);
  child.child.kill('SIGTERM');
  assert.equal(await child.exited, 0, 'the primary drains its workers and exits 0');
  // Connections spread over the workers: the access log names the serving process of each.
  const served = new Map<number, number>();
  for (const line of readFileSync(join(dir, 'access.log'), 'utf8').split('\n')) {
    if (line === '') continue;
    const record = JSON.parse(line) as { pid: number; target: string; status: number };
    if (record.target.startsWith('/w') && record.status === 200) served.set(record.pid, (served.get(record.pid) ?? 0) + 1);
  }
  assert.deepEqual([...served.keys()].sort(), workers.map(Number).sort(), `requests per worker: ${JSON.stringify([...served])}`);
  assert.equal([...served.values()].reduce((a, b) => a + b, 0), 200);
  for (const [pid, count] of served) assert.ok(count >= 20, `worker ${pid} served only ${count} of 200 connections`);
});
