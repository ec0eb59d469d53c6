/**
 * Membership changes under load, through the whole proxy: a cluster's endpoints change (DNS
 * A records from a real dnsmasq, a watched endpoints file, the admin API) while GETs and POSTs
 * run through it, and nothing is lost: 0 failed requests, 0 POST delivered twice, new endpoints
 * get traffic within one refresh, removed ones none once their requests in flight are done and
 * no connection left open to them. Backends listen on 127.0.0.2-5 (all on lo under Linux).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';
import type { RawBackend } from './helpers/proxy-backends.js';
import { HOSTS, proxyYaml, slowArrived, startBackends, TOKEN } from './helpers/fleet-backends.js';
import { request, scratchDir, waitUntil } from './helpers/proxy-harness.js';
import { Dnsmasq, dnsmasqBinary } from './helpers/dnsmasq.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const binary = dnsmasqBinary();
const skipDns = skipFor('fleet dns', binary === undefined ? 'dnsmasq is not installed (Debian package dnsmasq)' : undefined);
/** One DNS refresh (200 ms) plus room for a loaded machine. */
const ONE_REFRESH_MS = 200 + 1_500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GETs and POSTs from `workers` kept-alive client connections until `stop()`. */
class Load {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly failures: string[] = [];
  readonly postsAnswered: string[] = [];
  sent = 0;
  #stopped = false;
  #runs: Promise<void>[] = [];

  constructor(readonly port: number, workers = 6) {
    for (let w = 0; w < workers; w++) this.#runs.push(this.#run(w));
  }

  async #run(w: number): Promise<void> {
    // Bounded: 20,000 requests per worker at most, and the test stops it long before.
    for (let i = 0; i < 20_000 && !this.#stopped; i++) {
      const post = i % 2 === 1;
      const id = `${w}-${i}`;
      this.sent += 1;
      try {
        const reply = await request(this.port, post ? { method: 'POST', body: `id=${id}`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': id }, agent: this.agent, timeoutMs: 5_000 } : { agent: this.agent, headers: { 'x-request-id': id }, timeoutMs: 5_000 });
        if (reply.status !== 200) this.failures.push(`${id}: status ${reply.status} ${reply.body.trim()}`);
        else if (post) this.postsAnswered.push(id);
      } catch (error) {
        this.failures.push(`${id}: ${(error as Error).message}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#runs);
    this.agent.destroy();
  }
}

/** Every POST answered 200 reached exactly one backend exactly once; none arrived twice. */
function assertPostsOnce(backends: readonly RawBackend[], answered: readonly string[]): void {
  const seen = new Map<string, number>();
  for (const b of backends) for (const [id, n] of b.postIds) seen.set(id, (seen.get(id) ?? 0) + n);
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'POSTs delivered more than once');
  for (const id of answered) assert.equal(seen.get(id), 1, `POST ${id} was answered but no backend counted it`);
}
/** Wait until `members` have each answered a request (bounded by `timeoutMs`); ms taken or undefined. */
function waitForTraffic(members: readonly RawBackend[], timeoutMs: number): Promise<number | undefined> {
  const before = members.map((b) => b.requests);
  return waitUntil(() => members.every((b, i) => b.requests > (before[i] as number)), timeoutMs);
}

/**
 * The removed backends: once the cluster no longer lists them (their requests in flight done),
 * no connection stays open to them and no request reaches them while the load goes on.
 */
async function assertDrained(proxy: Proxy, removed: readonly RawBackend[], port: number): Promise<void> {
  const cluster = proxy.clusters.get('api');
  assert.ok(cluster !== undefined);
  const gone = await waitUntil(() => removed.every((b) => !cluster.members.some((m) => m.pool.endpoint.host === b.name)), 5_000);
  assert.ok(gone !== undefined, `removed members still listed: ${cluster.members.map((m) => `${m.pool.key} active=${m.pool.activeCount}`).join(', ')}`);
  const closed = await waitUntil(() => removed.every((b) => b.open === 0), 2_000);
  assert.ok(closed !== undefined, `sockets still open to removed backends: ${removed.map((b) => `${b.name}=${b.open}`).join(', ')}`);
  const counts = removed.map((b) => b.requests);
  await sleep(500);
  assert.deepEqual(removed.map((b) => b.requests), counts, `a removed backend got requests after draining (port ${port})`);
  assert.ok(removed.every((b) => b.open === 0), 'a connection to a removed backend was opened after draining');
}

function eventsOf(file: string): { event: string; message?: string; origin?: string }[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { event: string; message?: string; origin?: string });
}

test('fleet: DNS A records 2 -> 4 -> 1 under load lose nothing; the resolver stopped keeps the last answer', { skip: skipDns, timeout: 30_000 }, async (t) => {
  const backends = await startBackends();
  const [b2, b3, b4, b5] = backends as [RawBackend, RawBackend, RawBackend, RawBackend];
  const port = b2.port;
  const dns = await Dnsmasq.start(binary as string, [`${b2.name} api.test`, `${b3.name} api.test`], [], 1);
  const scratch = scratchDir('fleet-dns');
  const eventsFile = join(scratch.dir, 'events.log');
  const discovery = `    discovery: { type: dns, name: api.test, port: ${port}, resolver: ["${dns.server}"], minRefreshMs: 100, maxRefreshMs: 200, queryTimeoutMs: 300, ipv6: false }`;
  const proxy = await Proxy.start(parseConfig(proxyYaml(discovery, eventsFile), join(scratch.dir, 'proxy.yaml'), {}));
  t.after(async () => {
    await proxy.close();
    await dns.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  const cluster = proxy.clusters.get('api');
  assert.deepEqual(cluster?.views.map((v) => v.key), [`127.0.0.2:${port}`, `127.0.0.3:${port}`], 'the first answer is in before listening');

  const load = new Load(proxy.port());
  try {
    assert.ok((await waitForTraffic([b2, b3], 3_000)) !== undefined, 'no traffic on the first two endpoints');

    await dns.setHosts(HOSTS.map((h) => `${h} api.test`));
    const grew = await waitForTraffic([b4, b5], ONE_REFRESH_MS);
    assert.ok(grew !== undefined, `new endpoints got no traffic within ${ONE_REFRESH_MS} ms`);

    await dns.setHosts([`${b4.name} api.test`]);
    const shrunk = await waitUntil(() => cluster?.views.length === 1, ONE_REFRESH_MS);
    assert.ok(shrunk !== undefined, 'the cluster did not shrink to one endpoint within one refresh');
    await assertDrained(proxy, [b2, b3, b5], port);
    assert.ok((await waitForTraffic([b4], 1_000)) !== undefined, 'the remaining endpoint serves');

    // The resolver goes away mid-run: the last answer stays, traffic goes on.
    const staleBefore = proxy.fleets.get('api')?.discovery?.stats.staleKept ?? 0;
    await dns.stop();
    const stale = await waitUntil(() => (proxy.fleets.get('api')?.discovery?.stats.staleKept ?? 0) >= staleBefore + 2, 3_000);
    assert.ok(stale !== undefined, 'the stopped resolver was not noticed');
    assert.deepEqual(cluster?.views.map((v) => v.key), [`127.0.0.4:${port}`]);
    assert.ok((await waitForTraffic([b4], 1_000)) !== undefined, 'traffic stopped with the resolver');
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed`);
  assert.ok(load.postsAnswered.length > 50, `only ${load.postsAnswered.length} POSTs ran`);
  assertPostsOnce(backends, load.postsAnswered);

  const stats = (await request(proxy.adminPort() as number, { path: '/stats', headers: { authorization: `Bearer ${TOKEN}` } })).body;
  const membership = (JSON.parse(stats) as { membership: Record<string, { source: string; changes: number; discovery: { staleKept: number } }> }).membership['api'];
  assert.equal(membership?.source, 'dns');
  assert.ok((membership?.changes ?? 0) >= 3 && (membership?.discovery.staleKept ?? 0) >= 2, stats);
  const scrape = (await request(proxy.adminPort() as number, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).body;
  assert.ok(Number(/^lifeline_discovery_stale_kept_total\{cluster="api"\} (\d+)$/m.exec(scrape)?.[1]) >= 2, 'stale answers not in /metrics');
  assert.match(scrape, /^lifeline_cluster_endpoints\{cluster="api"\} 1$/m);
  assert.match(scrape, /^lifeline_membership_endpoints_removed_total\{cluster="api"\} 3$/m);
  const events = eventsOf(eventsFile);
  assert.ok(events.some((e) => e.event === 'membership_changed' && /draining 127\.0\.0\.2:\d+, 127\.0\.0\.3:\d+, 127\.0\.0\.5:\d+/.test(e.message ?? '')), 'no drain in the event log');
  assert.ok(events.some((e) => e.event === 'discovery_stale' && /keeping the last good answer \(1 endpoint\)/.test(e.message ?? '')), 'no stale answer in the event log');
  // Closing the proxy stops its discovery.
  const fleet = proxy.fleets.get('api');
  await proxy.close();
  await assert.rejects(fleet?.discovery?.refresh() ?? Promise.resolve(), /closed/);
});

test('fleet: the endpoints file 2 -> 4 -> 1 under load loses nothing; a bad file keeps the set', { timeout: 20_000 }, async (t) => {
  const backends = await startBackends();
  const [b2, b3, b4, b5] = backends as [RawBackend, RawBackend, RawBackend, RawBackend];
  const scratch = scratchDir('fleet-file');
  const file = join(scratch.dir, 'api-endpoints.yaml');
  const write = (list: readonly RawBackend[], text?: string): void => {
    writeFileSync(`${file}.tmp`, text ?? list.map((b) => `- address: ${b.name}:${b.port}\n`).join(''));
    renameSync(`${file}.tmp`, file);
  };
  write([b2, b3]);
  const eventsFile = join(scratch.dir, 'events.log');
  const proxy = await Proxy.start(parseConfig(proxyYaml(`    endpointsFile: ${file}`, eventsFile), join(scratch.dir, 'proxy.yaml'), {}));
  t.after(async () => {
    await proxy.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  const cluster = proxy.clusters.get('api');
  const load = new Load(proxy.port());
  try {
    assert.ok((await waitForTraffic([b2, b3], 3_000)) !== undefined);
    write([b2, b3, b4, b5]);
    assert.ok((await waitForTraffic([b4, b5], 2_000)) !== undefined, 'new endpoints got no traffic');
    write([b4]);
    assert.ok((await waitUntil(() => cluster?.views.length === 1, 2_000)) !== undefined, 'the file change was not applied');
    await assertDrained(proxy, [b2, b3, b5], b2.port);
    write([], '- address: nowhere\n');
    assert.ok((await waitUntil(() => proxy.fleets.get('api')?.endpointsFile?.stats.rejections === 1, 2_000)) !== undefined, 'the bad file was not rejected');
    assert.ok((await waitForTraffic([b4], 1_000)) !== undefined, 'traffic stopped after a bad file');
    assert.deepEqual(cluster?.views.map((v) => v.key), [`127.0.0.4:${b4.port}`]);

    // A reload with the same file: the new cluster starts from the set in force (not empty, not
    // the bad file) and the new watch follows the next change; the old one stops.
    const oldFleet = proxy.fleets.get('api');
    proxy.reload(parseConfig(proxyYaml(`    endpointsFile: ${file}`, eventsFile), join(scratch.dir, 'proxy.yaml'), {}));
    const reloaded = proxy.clusters.get('api');
    assert.ok(reloaded !== undefined && reloaded !== cluster);
    assert.deepEqual(reloaded.views.map((v) => v.key), [`127.0.0.4:${b4.port}`], 'the reloaded cluster did not start from the last set');
    write([b4, b5]);
    assert.ok((await waitForTraffic([b5], 2_000)) !== undefined, 'the reloaded cluster does not follow the file');
    assert.deepEqual(oldFleet?.membership.endpoints.map((e) => e.address), [`127.0.0.4:${b4.port}`], 'the old watch still applies changes');
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed`);
  assertPostsOnce(backends, load.postsAnswered);
  assert.ok(eventsOf(eventsFile).some((e) => e.event === 'endpoints_file_rejected'), 'the rejection is not in the event log');
  const fleet = proxy.fleets.get('api');
  await proxy.close();
  await assert.rejects(fleet?.endpointsFile?.reload() ?? Promise.resolve(), /closed/, 'closing the proxy left the file watched');
});

test('fleet: the admin API adds, re-weights and drains endpoints under load, behind the token', { timeout: 20_000 }, async (t) => {
  const backends = await startBackends();
  const [b2, b3, b4] = backends as [RawBackend, RawBackend, RawBackend, RawBackend];
  const scratch = scratchDir('fleet-admin');
  const cluster = `    endpoints: [{ address: "${b2.name}:${b2.port}" }, { address: "${b3.name}:${b3.port}" }]`;
  const proxy = await Proxy.start(parseConfig(proxyYaml(cluster, join(scratch.dir, 'events.log')), join(scratch.dir, 'proxy.yaml'), {}));
  t.after(async () => {
    await proxy.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  const admin = proxy.adminPort() as number;
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const refused = await request(admin, { method: 'POST', path: '/clusters/api/endpoints', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: `${b4.name}:${b4.port}` }) });
  assert.equal(refused.status, 401, 'no token, no change');
  const wrong = await request(admin, { method: 'DELETE', path: `/clusters/api/endpoints/${b2.name}:${b2.port}`, headers: { authorization: 'Bearer not-the-token-at-all' } });
  assert.equal(wrong.status, 401);
  assert.equal(proxy.clusters.get('api')?.views.length, 2);

  const load = new Load(proxy.port());
  try {
    assert.ok((await waitForTraffic([b2, b3], 3_000)) !== undefined);
    const added = await request(admin, { method: 'POST', path: '/clusters/api/endpoints', headers: auth, body: JSON.stringify({ address: `${b4.name}:${b4.port}`, weight: 1 }) });
    assert.equal(added.status, 201, added.body);
    assert.ok((await waitForTraffic([b4], 1_000)) !== undefined, 'the added endpoint got no traffic');
    const weighted = await request(admin, { method: 'POST', path: '/clusters/api/endpoints', headers: auth, body: JSON.stringify({ address: `${b4.name}:${b4.port}`, weight: 5 }) });
    assert.equal(weighted.status, 200, weighted.body);
    assert.equal(proxy.clusters.get('api')?.member(`${b4.name}:${b4.port}`)?.view.weight, 5);
    // Requests in flight on the endpoints about to go: they must finish, answered by them.
    const slow = Array.from({ length: 14 }, () => request(proxy.port(), { path: '/slow', timeoutMs: 5_000 }));
    const reached = (): number => (slowArrived.get(b2.name) ?? 0) + (slowArrived.get(b3.name) ?? 0);
    assert.ok((await waitUntil(() => reached() >= 2, 1_000)) !== undefined, 'no slow request reached the endpoints to be removed');
    for (const b of [b2, b3]) {
      const removed = await request(admin, { method: 'DELETE', path: `/clusters/api/endpoints/${b.name}:${b.port}`, headers: auth });
      assert.equal(removed.status, 200, removed.body);
    }
    const slowReplies = await Promise.all(slow);
    assert.deepEqual(slowReplies.map((r) => r.status), slowReplies.map(() => 200), 'a request in flight on a removed endpoint failed');
    assert.ok(slowReplies.some((r) => r.headers['x-backend'] === b2.name || r.headers['x-backend'] === b3.name), 'no request in flight finished on a removed endpoint');
    await assertDrained(proxy, [b2, b3], b2.port);
    const last = await request(admin, { method: 'DELETE', path: `/clusters/api/endpoints/${b4.name}:${b4.port}`, headers: auth });
    assert.equal(last.status, 409, 'the last endpoint stays');
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed`);
  assertPostsOnce(backends, load.postsAnswered);
});
test('fleet: an address that stays keeps its pool, health and outlier state; a new one starts fresh; a removed one leaves health checks', { timeout: 10_000 }, async (t) => {
  const backends = await startBackends();
  const [b2, b3, b4] = backends as [RawBackend, RawBackend, RawBackend, RawBackend];
  const scratch = scratchDir('fleet-state');
  const key = (b: RawBackend): string => `${b.name}:${b.port}`;
  const cluster = `    endpoints: [{ address: "${key(b2)}" }, { address: "${key(b3)}" }]
    healthCheck: { intervalMs: 60000, timeoutMs: 1000 }
    outlierDetection: { consecutiveConnectFailures: 2, maxEjectionPercent: 100, baseEjectionMs: 60000 }`;
  const proxy = await Proxy.start(parseConfig(proxyYaml(cluster, join(scratch.dir, 'events.log')), join(scratch.dir, 'proxy.yaml'), {}));
  t.after(async () => {
    await proxy.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  const api = proxy.clusters.get('api');
  const membership = proxy.fleets.get('api')?.membership;
  assert.ok(api !== undefined && membership !== undefined);
  const m2 = api.member(key(b2));
  const m3 = api.member(key(b3));
  assert.ok(m2 !== undefined && m3 !== undefined);
  api.record(m2, 'connect-failure');
  api.record(m2, 'connect-failure');
  assert.ok(api.outliers.isEjected(key(b2)), 'the set-up ejection did not happen');

  membership.upsert(key(b4), 3);
  membership.remove(key(b3));
  assert.equal(api.member(key(b2)), m2, 'the staying endpoint got a new member');
  assert.ok(api.outliers.isEjected(key(b2)) && api.outliers.ejectionCount(key(b2)) === 1, 'the staying endpoint lost its outlier state');
  assert.equal(m2.view.available, false, 'the staying endpoint came back into rotation');
  const m4 = api.member(key(b4));
  assert.ok(m4 !== undefined && m4.view.available && m4.view.weight === 3 && !api.outliers.isEjected(key(b4)), 'the new endpoint is not fresh and in rotation');
  assert.deepEqual(api.health?.keys().sort(), [key(b2), key(b4)].sort(), 'health checks do not follow the membership');
  assert.deepEqual(api.views.map((v) => v.key), [key(b2), key(b4)]);
  assert.ok(m3.draining);
  assert.ok((await waitUntil(() => api.member(key(b3)) === undefined, 2_000)) !== undefined, 'an idle removed endpoint stays listed');

  // With b2 ejected, every request goes to b4; b3 back is a new, fresh member.
  for (let i = 0; i < 5; i++) assert.equal((await request(proxy.port())).headers['x-backend'], b4.name);
  membership.upsert(key(b3), undefined);
  const back = api.member(key(b3));
  assert.ok(back !== undefined && back !== m3 && back.view.available && !back.draining);
});
test('fleet: a request waiting for a connection to a removed endpoint goes to another, without using up a try', { timeout: 15_000 }, async (t) => {
  const backends = await startBackends();
  const [b2, b3] = backends as [RawBackend, RawBackend, RawBackend, RawBackend];
  const scratch = scratchDir('fleet-waiting');
  const key = (b: RawBackend): string => `${b.name}:${b.port}`;
  // One connection per endpoint and no retries: a queued request that failed would be a 502.
  const cluster = `    endpoints: [{ address: "${key(b2)}" }, { address: "${key(b3)}" }]
    pool: { maxConnectionsPerEndpoint: 1 }
    retries: { maxAttempts: 1 }`;
  const proxy = await Proxy.start(parseConfig(proxyYaml(cluster, join(scratch.dir, 'events.log')), join(scratch.dir, 'proxy.yaml'), {}));
  t.after(async () => {
    await proxy.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  const api = proxy.clusters.get('api');
  const pool2 = api?.member(key(b2))?.pool;
  assert.ok(api !== undefined && pool2 !== undefined);
  const slow = Array.from({ length: 6 }, () => request(proxy.port(), { path: '/slow', timeoutMs: 8_000 }));
  assert.ok((await waitUntil(() => pool2.waiting > 0 && pool2.activeCount === 1, 2_000)) !== undefined, 'no request queued on the endpoint to be removed');
  const queued = pool2.waiting;
  proxy.fleets.get('api')?.membership.remove(key(b2));
  const replies = await Promise.all(slow);
  assert.deepEqual(replies.map((r) => r.status), replies.map(() => 200), replies.map((r) => r.body).join(' | '));
  const onB3 = replies.filter((r) => r.headers['x-backend'] === b3.name).length;
  assert.ok(onB3 >= 3 + queued, `${queued} queued requests were not moved to the remaining endpoint (${onB3} answered there)`);
  assert.equal(b2.requests, 1, 'the removed endpoint got more than the request it was serving');
  assert.equal(proxy.metrics.json().upstream['api']?.rqRetry, 0, 'the move was counted as a retry');
});
