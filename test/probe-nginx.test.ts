/**
 * `lifeline probe` against nginx and HAProxy run as this test's children with known settings,
 * all probed in parallel:
 * - nginx: keepalive_timeout 3s, keepalive_requests 7, client_header_timeout 2s; two TLS
 *   servers: ssl_session_tickets on (TLS 1.2 and 1.3, no session cache, http2, ssl_session_timeout 7m) and off
 *   (shared session cache; nginx 1.22's default protocols, TLS 1.3 not among them);
 * - HAProxy: timeout http-keep-alive 2s.
 * Missing binaries skip with the reason, and fail under LIFELINE_CI=1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { probe } from '../src/probe/index.js';
import type { ProbeOptions, ProbeResult } from '../src/probe/index.js';
import { skipFor } from './helpers/lease-prerequisites.js';
import { freePort, missing, startHaproxy, startNginx } from './helpers/probe-servers.js';
import type { ChildServer } from './helpers/probe-servers.js';
import { makeTestCert, openTcpHandles } from './helpers/tls-certs.js';

function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: not measured`);
  const tolerance = Math.max(30, expected * 0.02);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} ms, expected ${expected} ± ${tolerance} ms`);
}

const nginxSkip = skipFor('probe vs nginx', missing('nginx'));
const haproxySkip = skipFor('probe vs HAProxy', missing('haproxy'));
const children: ChildServer[] = [];
const runs = new Map<string, Promise<ProbeResult>>();

function start(name: string, url: string, options: ProbeOptions): void {
  const p = probe(url, options);
  p.catch(() => undefined); // awaited by its test
  runs.set(name, p);
}

before(async () => {
  if (nginxSkip === false) {
    const { key, cert } = makeTestCert();
    const [plain, tickets, noTickets] = [await freePort(), await freePort(), await freePort()];
    children.push(await startNginx(`
  keepalive_timeout 3s;
  keepalive_requests 7;
  client_header_timeout 2s;
  ssl_session_timeout 7m;
  server { listen 127.0.0.1:${plain}; location / { return 200 "ok\\n"; } }
  server {
    listen 127.0.0.1:${tickets} ssl http2;
    ssl_certificate DIR/cert.pem; ssl_certificate_key DIR/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    location / { return 200 "ok\\n"; }
  }
  server {
    listen 127.0.0.1:${noTickets} ssl;
    ssl_certificate DIR/cert.pem; ssl_certificate_key DIR/key.pem;
    ssl_session_tickets off;
    ssl_session_cache shared:probe:1m;
    location / { return 200 "ok\\n"; }
  }`, [plain, tickets, noTickets], { 'cert.pem': cert, 'key.pem': key }));
    start('plain', `http://127.0.0.1:${plain}/`, { only: ['idle', 'requests', 'header', 'h2'], maxWaitMs: 6_000 });
    start('tickets', `https://localhost:${tickets}/`, { only: ['tls', 'h2'], maxWaitMs: 6_000, ca: cert });
    start('noTickets', `https://localhost:${noTickets}/`, { only: ['tls', 'idle'], maxWaitMs: 6_000, ca: cert });
  }
  if (haproxySkip === false) {
    const port = await freePort();
    children.push(await startHaproxy(`
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  timeout http-keep-alive 2s
  timeout http-request 10s
frontend probe
  bind 127.0.0.1:${port}
  http-request return status 200 content-type text/plain string ok
`, [port]));
    start('haproxy', `http://127.0.0.1:${port}/`, { only: ['idle'], maxWaitMs: 6_000 });
  }
});

after(async () => {
  await Promise.allSettled(runs.values());
  await Promise.all(children.map((c) => c.close()));
  assert.deepEqual(await openTcpHandles(), []);
});

test('nginx: idle timeout 3 s, 7 requests announced, header timeout 2 s, no h2c', { skip: nginxSkip }, async () => {
  const r = await runs.get('plain')!;
  near(r.idle?.idleTimeoutMs, 3_000, 'idle timeout');
  assert.equal(r.idle?.hint, undefined, 'keepalive_timeout without a second value sends no hint');
  assert.equal(r.requests?.requestsServed, 7);
  assert.equal(r.requests?.endedBy, 'announced');
  near(r.header?.timeoutMs, 2_000, 'header timeout');
  assert.equal(r.header?.endedBy, 'closed', 'nginx closes without a 408');
  assert.equal(r.header?.closeReason, 'peer_close');
  assert.equal(r.h2?.offered, false);
  assert.deepEqual(r.errors, []);
});

test('nginx TLS, tickets on: ticket and PSK resumption, no session-ID cache, hint 420 s, h2 GOAWAY at 3 s', { skip: nginxSkip }, async () => {
  const r = await runs.get('tickets')!;
  const tls = r.tls;
  assert.equal(tls?.protocol, 'TLSv1.3');
  assert.equal(tls?.alpn, 'h2');
  assert.equal(tls?.tls12TicketResumption, true);
  assert.equal(tls?.tls12SessionIdResumption, false);
  assert.equal(tls?.tls13PskResumption, true);
  assert.equal(tls?.ticketLifetimeHintSec, 420);
  assert.ok(tls?.resumedHandshakeMs !== undefined);
  assert.equal(r.h2?.offered, true);
  assert.equal(r.h2?.how, 'alpn');
  assert.equal(r.h2?.maxConcurrentStreams, 128);
  near(r.h2?.idleGoawayMs, 3_000, 'h2 idle GOAWAY');
  assert.equal(r.h2?.goawayErrorName, 'NO_ERROR');
});

test('nginx TLS, tickets off with a session cache: session-ID resumption only', { skip: nginxSkip }, async () => {
  const r = await runs.get('noTickets')!;
  assert.equal(r.tls?.tls12TicketResumption, false);
  assert.equal(r.tls?.tls12SessionIdResumption, true);
  assert.equal(r.tls?.tls13PskResumption, 'no_tls13', "nginx 1.22's default ssl_protocols stop at TLS 1.2");
  assert.equal(r.tls?.ticketLifetimeHintSec, undefined);
  near(r.idle?.idleTimeoutMs, 3_000, 'idle timeout over TLS');
});

test('HAProxy: timeout http-keep-alive 2 s', { skip: haproxySkip }, async () => {
  const r = await runs.get('haproxy')!;
  near(r.idle?.idleTimeoutMs, 2_000, 'idle timeout');
  assert.deepEqual(r.errors, []);
});
