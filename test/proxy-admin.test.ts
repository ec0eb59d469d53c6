/**
 * The proxy's admin listener as an operator and an orchestrator meet it, with real sockets:
 *
 * - `/healthz` is liveness (200 while the process serves, draining included); `/readyz` is
 *   readiness (listeners bound, not draining, every cluster or each one named has an available
 *   endpoint), a 503 whose JSON names the failed check.
 * - Admin security: off loopback without `admin.token` the config is refused naming the key, and
 *   so is `Proxy.start`; with a token, `/stats`, `/metrics`, `/events` and the dashboard need it
 *   (Bearer, or the cookie from the login form) while the probes stay open.
 * - Metrics: process and runtime metrics, build info and uptime on the proxy's own registry; every
 *   metric of a scrape is listed in docs/metrics.md with its type and labels, and nothing more.
 * - `/stats` spells histogram bounds `+Inf`, never `null`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { ConfigError, parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';
import { startRawBackend } from './helpers/proxy-backends.js';
import { request, ROOT, startProxy, waitUntil } from './helpers/proxy-harness.js';

const INTERVAL_MS = 100;
const FALL = 2;

function yaml(ports: { app: number[]; other: number[] }, admin = 'admin:\n  address: 127.0.0.1:0\n'): string {
  const eps = (list: number[]): string => list.map((p) => `      - address: 127.0.0.1:${p}\n`).join('');
  const hc = `    healthCheck:\n      path: /healthz\n      intervalMs: ${INTERVAL_MS}\n      timeoutMs: 80\n      fall: ${FALL}\n      rise: 1\n`;
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - pathPrefix: /other
        cluster: other
      - cluster: app
clusters:
  app:
    endpoints:
${eps(ports.app)}${hc}  other:
    endpoints:
${eps(ports.other)}${hc}${admin}accessLog:
  target: "off"
eventLog:
  target: "off"
`;
}

interface ReadyBody {
  ready: boolean;
  failed: { check: string; subject: string; detail: string }[];
  checks: { check: string; ok: boolean; subject: string }[];
}

async function readyz(port: number, query = ''): Promise<{ status: number; body: ReadyBody }> {
  const reply = await request(port, { path: `/readyz${query}` });
  return { status: reply.status, body: JSON.parse(reply.body) as ReadyBody };
}

test('/healthz is liveness and /readyz readiness: a cluster with no healthy endpoint, ?cluster=, an unknown name, draining', async (t) => {
  const app = await startRawBackend({ name: 'app' });
  const other = await startRawBackend({ name: 'other' });
  t.after(() => Promise.all([app.close(), other.close()]));
  const proxy = await startProxy(yaml({ app: [app.port], other: [other.port] }));
  t.after(() => proxy.close());
  const admin = proxy.adminPort() as number;

  let r = await readyz(admin);
  assert.equal(r.status, 200);
  assert.equal(r.body.ready, true);
  assert.deepEqual(r.body.failed, []);
  assert.deepEqual(r.body.checks.map((c) => `${c.check}:${c.subject}:${c.ok}`).sort(), ['cluster_has_healthy_endpoint:app:true', 'cluster_has_healthy_endpoint:other:true', 'listener_bound:main:true', 'not_draining:proxy:true']);

  await other.kill();
  const bound = INTERVAL_MS * (FALL + 1) + 500;
  const took = await waitUntil(async () => (await readyz(admin)).status === 503, bound, 20);
  assert.ok(took !== undefined, `/readyz did not turn 503 within ${bound} ms of the backend dying`);
  r = await readyz(admin);
  assert.equal(r.body.ready, false);
  assert.deepEqual(r.body.failed.map((f) => `${f.check}:${f.subject}`), ['cluster_has_healthy_endpoint:other']);
  assert.match(r.body.failed[0]?.detail ?? '', /0 of 1 endpoints available/);

  // Only the named clusters count: app alone is ready; other (or both) is not.
  assert.equal((await readyz(admin, '?cluster=app')).status, 200);
  assert.equal((await readyz(admin, '?cluster=other')).status, 503);
  assert.equal((await readyz(admin, '?cluster=app,other')).status, 503);
  r = await readyz(admin, '?cluster=nope');
  assert.equal(r.status, 503);
  assert.deepEqual(r.body.failed.map((f) => `${f.check}:${f.subject}`), ['cluster_known:nope']);
  assert.match(r.body.failed[0]?.detail ?? '', /no cluster named "nope" \(defined: app, other\)/);

  await other.restart();
  assert.ok((await waitUntil(async () => (await readyz(admin)).status === 200, bound, 20)) !== undefined, '/readyz did not return to 200');

  // Liveness stays 200 while draining (a restart would cut the drain short); readiness is 503.
  await proxy.drain({ timeoutMs: 200, spreadMs: 0 });
  const live = await request(admin, { path: '/healthz' });
  assert.equal(live.status, 200);
  assert.equal(live.body, 'ok\n');
  r = await readyz(admin);
  assert.equal(r.status, 503);
  assert.ok(r.body.failed.some((f) => f.check === 'not_draining'), JSON.stringify(r.body.failed));
  assert.ok(r.body.failed.some((f) => f.check === 'listener_bound' && f.subject === 'main'), 'a drained listener is not bound');
});

test('admin off loopback without a token: the config is refused naming admin.token, and so is Proxy.start', async () => {
  const text = yaml({ app: [1], other: [2] }, 'admin:\n  address: 0.0.0.0:0\n');
  assert.throws(
    () => parseConfig(text, '/tmp/admin.yaml', {}),
    (e: unknown) => e instanceof ConfigError && /admin\.address/.test(e.message) && /admin\.token/.test(e.message) && /"0\.0\.0\.0:0" with no admin\.token/.test(e.message),
  );
  // A token that is set is accepted anywhere; loopback needs none.
  assert.ok(parseConfig(yaml({ app: [1], other: [2] }, 'admin:\n  address: 0.0.0.0:0\n  token: abcdefghijklmnop0123\n'), '/tmp/a.yaml', {}).admin?.token);
  assert.equal(parseConfig(yaml({ app: [1], other: [2] }, 'admin:\n  address: "[::1]:0"\n'), '/tmp/a.yaml', {}).admin?.token, null);
  assert.throws(() => parseConfig(yaml({ app: [1], other: [2] }, 'admin:\n  address: 127.0.0.1:0\n  token: short\n'), '/tmp/a.yaml', {}), /admin\.token.*at least 16 characters/s);

  // A config built in code (not through the file checks) is refused at start, nothing left bound.
  const config = parseConfig(yaml({ app: [1], other: [2] }), '/tmp/a.yaml', {});
  const exposed = { ...config, admin: { address: '0.0.0.0:0', host: '0.0.0.0', port: 0, token: null } };
  await assert.rejects(Proxy.start(exposed), (e: unknown) => (e as { code?: string }).code === 'ERR_ADMIN_UNPROTECTED' && /admin\.token/.test((e as Error).message));
});

/** GET on the admin port with optional headers; the body as text. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return request(port, { path, headers }).then((r) => ({ status: r.status, headers: r.headers, body: r.body }));
}

test('with admin.token: stats, metrics, events and the dashboard need the token (Bearer or login cookie); probes stay open', async (t) => {
  const TOKEN = 'admin-test-token-0123456789';
  const app = await startRawBackend({ name: 'app' });
  t.after(() => app.close());
  const proxy = await startProxy(yaml({ app: [app.port], other: [app.port] }, `admin:\n  address: 127.0.0.1:0\n  token: ${TOKEN}\n`));
  t.after(() => proxy.close());
  const admin = proxy.adminPort() as number;

  for (const path of ['/stats', '/metrics', '/events', '/api/dashboard', '/dashboard.js']) {
    const r = await get(admin, path);
    assert.equal(r.status, 401, `${path} without a token`);
    assert.equal((await get(admin, path, { authorization: 'Bearer wrong-token-0123456789' })).status, 401, `${path} with a wrong token`);
  }
  const page = await get(admin, '/');
  assert.equal(page.status, 401);
  assert.match(page.body, /<form method="post" action="\/login">/);
  assert.equal((await get(admin, '/healthz')).status, 200);
  assert.equal((await get(admin, '/readyz')).status, 200);

  const stats = await get(admin, '/stats', { authorization: `Bearer ${TOKEN}` });
  assert.equal(stats.status, 200);
  assert.ok('upstream' in (JSON.parse(stats.body) as object));

  // The login form: a wrong token is refused, the right one sets an HttpOnly cookie that opens the page and the stream.
  const post = (token: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: admin, method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end(new URLSearchParams({ token }).toString());
    });
  const wrong = await post('not-the-token-000000');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers['set-cookie'], undefined);
  const ok = await post(TOKEN);
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/');
  const cookie = (ok.headers['set-cookie']?.[0] ?? '').split(';')[0] as string;
  assert.match(ok.headers['set-cookie']?.[0] ?? '', /HttpOnly; SameSite=Strict/);
  assert.ok(!cookie.includes(TOKEN), 'the cookie does not carry the token itself');
  const withCookie = await get(admin, '/', { cookie });
  assert.equal(withCookie.status, 200);
  assert.match(withCookie.body, /<title>lifeline proxy<\/title>/);

  // The SSE stream with the cookie: the history event first.
  const first = await new Promise<string>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: admin, path: '/events', headers: { cookie } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => {
        text += s;
        if (text.includes('\n\n', text.indexOf('event: history'))) {
          req.destroy();
          resolve(text);
        }
      });
    });
    req.on('error', reject);
  });
  assert.match(first, /event: history\ndata: \{"state":/);
});

test('metrics: runtime, build info and uptime on the proxy registry; docs/metrics.md lists exactly what a scrape has', async (t) => {
  const app = await startRawBackend({ name: 'app' });
  t.after(() => app.close());
  const proxy = await startProxy(yaml({ app: [app.port], other: [app.port] }));
  t.after(() => proxy.close());
  const port = proxy.port();
  for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: `/x${i}` })).status, 200);
  // The GC histogram has samples once a collection happened: make garbage until one is seen.
  let text = '';
  let garbage: number[][] = [];
  const seen = await waitUntil(async () => {
    for (let i = 0; i < 20_000; i++) garbage.push([i, i + 1, i + 2]);
    garbage = [];
    text = (await get(proxy.adminPort() as number, '/metrics')).body;
    return /^nodejs_gc_duration_seconds_count\{/m.test(text);
  }, 5_000, 10);
  assert.ok(seen !== undefined, 'no GC was recorded within 5 s of making garbage');

  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.match(text, new RegExp(`^lifeline_build_info\\{version="${version.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
  const uptime = Number(/^lifeline_uptime_seconds (\S+)$/m.exec(text)?.[1]);
  assert.ok(uptime > 0 && uptime < 86_400, `uptime ${uptime}`);
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds_count', 'process_start_time_seconds']) {
    assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? \\d`, 'm'), `${name} in the scrape`);
  }

  // Every family in the scrape, its type and the labels its samples carry.
  const scraped = new Map<string, { type: string; labels: Set<string> }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] !== undefined && type[2] !== undefined) scraped.set(type[1], { type: type[2], labels: new Set() });
  }
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/.exec(line);
    if (sample?.[1] === undefined || sample[2] === undefined) continue;
    const family = scraped.get(sample[1]) ?? scraped.get(sample[1].replace(/_(bucket|sum|count)$/, ''));
    for (const m of sample[2].matchAll(/([a-zA-Z_]+)="/g)) if (m[1] !== 'le') family?.labels.add(m[1] as string);
  }
  const documented = new Map<string, { type: string; labels: Set<string> }>();
  const doc = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
  // The proxy's sections: up to the tunnel's.
  for (const line of doc.slice(0, doc.indexOf('## Tunnel server')).split('\n')) {
    const row = /^\| `([a-z0-9_:]+)` \| (counter|gauge|histogram|summary) \|([^|]*)\|/.exec(line);
    if (row?.[1] !== undefined && row[2] !== undefined && row[3] !== undefined) {
      documented.set(row[1], { type: row[2], labels: new Set(row[3].split(',').map((s) => s.trim()).filter((s) => s !== '')) });
    }
  }
  assert.ok(scraped.size > 40, `a scrape has ${scraped.size} families`);
  const undocumented = [...scraped.keys()].filter((n) => !documented.has(n));
  const stale = [...documented.keys()].filter((n) => !scraped.has(n));
  assert.deepEqual(undocumented, [], 'metrics missing from docs/metrics.md');
  assert.deepEqual(stale, [], 'docs/metrics.md lists metrics that do not exist');
  for (const [name, s] of scraped) {
    const d = documented.get(name);
    assert.equal(d?.type, s.type, `${name}: type`);
    for (const label of s.labels) assert.ok(d?.labels.has(label), `${name}: label ${label} not documented`);
  }
});

test('/stats spells the histogram bound above the last +Inf, never null', async (t) => {
  const app = await startRawBackend({ name: 'app' });
  t.after(() => app.close());
  const proxy = await startProxy(yaml({ app: [app.port], other: [app.port] }));
  t.after(() => proxy.close());
  assert.equal((await request(proxy.port(), { path: '/' })).status, 200);
  const body = (await get(proxy.adminPort() as number, '/stats')).body;
  const stats = JSON.parse(body) as { downstream: Record<string, { rqDuration: { le: unknown[] } }> };
  const le = stats.downstream['main']?.rqDuration.le ?? [];
  assert.equal(le.at(-1), '+Inf');
  assert.ok(le.slice(0, -1).every((b) => typeof b === 'number'));
  assert.ok(!/"le": \[[^\]]*null/.test(body), 'no null bound anywhere in /stats');
});

test('the admin listener has no open handle left after close (SSE client connected)', async () => {
  const proxy = await startProxy(yaml({ app: [1], other: [2] }));
  const admin = proxy.adminPort() as number;
  const req = http.get({ host: '127.0.0.1', port: admin, path: '/events' });
  // close() ends the stream from the server side; the client sees its connection end.
  req.on('error', () => undefined);
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  res.on('error', () => undefined);
  res.resume();
  assert.equal(proxy.feed?.clients, 1);
  const ended = new Promise((resolve) => res.on('close', resolve));
  await proxy.close();
  await ended;
  assert.equal(proxy.feed?.clients, 0);
});
