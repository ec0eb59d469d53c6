import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { startAdmin } from '../src/proxy/admin/admin-server.js';
import { createEndpointsApi } from '../src/proxy/admin/endpoints-api.js';
import { ClusterMembership } from '../src/proxy/discovery/index.js';
import type { MembershipChange } from '../src/proxy/discovery/index.js';
import { FakeClock } from '../src/core/fake-clock.js';
import { skipFor } from './helpers/lease-prerequisites.js';
import { spawnSync } from 'node:child_process';

const hasCurl = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).status === 0;
const skip = skipFor('admin endpoints API', hasCurl ? undefined : 'curl is not installed (Debian package curl)');
const TOKEN = 'fleet-admin-token-0123456789';

const ep = (address: string, weight = 1): { address: string; host: string; port: number; weight: number } => {
  const colon = address.lastIndexOf(':');
  return { address, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), weight };
};

/** curl as an operator would: status and parsed JSON body. */
function curl(port: number, method: string, path: string, options: { token?: string; body?: string } = {}): Promise<{ status: number; body: Record<string, unknown>; headers: string }> {
  const args = ['-sS', '-D', '-', '-X', method, `http://127.0.0.1:${port}${path}`, '--max-time', '10'];
  if (options.token !== undefined) args.push('-H', `Authorization: Bearer ${options.token}`);
  if (options.body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', options.body);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 15_000 }, (err, stdout) => {
      if (err) return reject(new Error(`curl failed: ${err.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const headers = stdout.slice(0, split);
      const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1]);
      const text = stdout.slice(split + 4).trim();
      resolve({ status, headers, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } });
    });
  });
}

test('admin endpoints API over curl: list, add, re-weight, drain one, refusals with codes; /stats shows the changes', { skip }, async () => {
  const clock = new FakeClock(1_000);
  const api = new ClusterMembership('api', 'endpoints', [ep('10.0.0.1:8080'), ep('10.0.0.2:8080')], { clock });
  const dyn = new ClusterMembership('dyn', 'dns', [ep('10.0.1.1:80')], { clock });
  const clusters = new Map([
    ['api', api],
    ['dyn', dyn],
  ]);
  const changes: MembershipChange[] = [];
  api.on('change', (c) => changes.push(c));
  const server = await startAdmin(
    { address: '127.0.0.1:0', host: '127.0.0.1', port: 0 },
    {
      draining: () => false,
      stats: () => ({ clusters: [...clusters.values()].map((m) => m.snapshot()) }),
      metricsText: () => Promise.resolve(''),
      metricsContentType: 'text/plain',
      extra: createEndpointsApi({ bearerToken: TOKEN, clusters: () => clusters }),
    },
  );
  const port = (server.address() as AddressInfo).port;
  try {
    const anon = await curl(port, 'GET', '/clusters/api/endpoints');
    assert.equal(anon.status, 401);
    assert.match(anon.headers, /www-authenticate: Bearer/i);
    assert.equal((await curl(port, 'GET', '/clusters/api/endpoints', { token: 'wrong-token-wrong-token' })).status, 401);

    const list = await curl(port, 'GET', '/clusters/api/endpoints', { token: TOKEN });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body['endpoints'], [{ address: '10.0.0.1:8080', weight: 1 }, { address: '10.0.0.2:8080', weight: 1 }]);
    assert.equal(list.body['source'], 'endpoints');

    const added = await curl(port, 'POST', '/clusters/api/endpoints', { token: TOKEN, body: '{"address": "10.0.0.3:8080", "weight": 2}' });
    assert.equal(added.status, 201);
    assert.equal(changes.length, 1);
    assert.deepEqual(changes[0]?.diff.added.map((e) => [e.address, e.weight]), [['10.0.0.3:8080', 2]]);
    assert.equal(changes[0]?.message, 'cluster api: added 10.0.0.3:8080 (by admin)');

    const reweighted = await curl(port, 'POST', '/clusters/api/endpoints', { token: TOKEN, body: '{"address": "10.0.0.3:8080", "weight": 5}' });
    assert.equal(reweighted.status, 200);
    assert.deepEqual(changes[1]?.diff.reweighted, [{ address: '10.0.0.3:8080', fromWeight: 2, toWeight: 5 }]);
    assert.equal(changes[1]?.message, 'cluster api: 10.0.0.3:8080 weight 2 -> 5 (by admin)');

    clock.advance(2_500);
    const drained = await curl(port, 'DELETE', '/clusters/api/endpoints/10.0.0.1:8080', { token: TOKEN });
    assert.equal(drained.status, 200);
    assert.deepEqual(changes[2]?.diff.removed.map((e) => e.address), ['10.0.0.1:8080']);
    assert.deepEqual(drained.body['endpoints'], [{ address: '10.0.0.2:8080', weight: 1 }, { address: '10.0.0.3:8080', weight: 5 }]);
    assert.equal((await curl(port, 'DELETE', '/clusters/api/endpoints?address=10.0.0.2:8080', { token: TOKEN })).status, 200);

    const refusals: [string, string, string | undefined, number, string, RegExp][] = [
      ['POST', '/clusters/api/endpoints', '{"address": "10.0.0.9"}', 400, 'ERR_ENDPOINT_INVALID', /address must be "host:port".*"10\.0\.0\.9": no ":port"/],
      ['POST', '/clusters/api/endpoints', '{"address": "10.0.0.9:80", "weight": 0}', 400, 'ERR_ENDPOINT_INVALID', /weight must be an integer from 1 to 1000; got 0/],
      ['POST', '/clusters/api/endpoints', '{"address": "10.0.0.9:80", "wieght": 2}', 400, 'ERR_BAD_REQUEST', /unknown key "wieght"/],
      ['POST', '/clusters/api/endpoints', '[1]', 400, 'ERR_BAD_REQUEST', /must be a JSON object/],
      ['DELETE', '/clusters/api/endpoints/10.0.0.77:8080', undefined, 404, 'ERR_ENDPOINT_NOT_FOUND', /cluster api has no endpoint 10\.0\.0\.77:8080/],
      ['DELETE', '/clusters/api/endpoints/10.0.0.3:8080', undefined, 409, 'ERR_LAST_ENDPOINT', /10\.0\.0\.3:8080 is the last endpoint of cluster api/],
      ['POST', '/clusters/dyn/endpoints', '{"address": "10.0.0.9:80"}', 409, 'ERR_ENDPOINTS_MANAGED', /cluster dyn takes its endpoints from its DNS records; change them there/],
      ['GET', '/clusters/nope/endpoints', undefined, 404, 'ERR_NOT_FOUND', /no cluster named "nope" \(clusters: api, dyn\)/],
      ['PUT', '/clusters/api/endpoints', '{}', 405, 'ERR_METHOD_NOT_ALLOWED', /PUT is not allowed here; use GET, POST, DELETE/],
    ];
    for (const [method, path, body, status, code, message] of refusals) {
      const r = await curl(port, method, path, { token: TOKEN, ...(body === undefined ? {} : { body }) });
      const error = r.body['error'] as { code: string; message: string } | undefined;
      assert.equal(r.status, status, `${method} ${path} ${body ?? ''}: ${JSON.stringify(r.body)}`);
      assert.equal(error?.code, code, `${method} ${path}`);
      assert.match(error?.message ?? '', message, `${method} ${path}`);
    }
    assert.equal(changes.length, 4, 'refused calls changed nothing');

    // Other admin paths are untouched; /stats reports the changes.
    assert.equal((await curl(port, 'GET', '/healthz')).status, 200);
    const stats = await curl(port, 'GET', '/stats');
    const apiStats = (stats.body['clusters'] as Record<string, unknown>[])[0] as Record<string, unknown>;
    assert.deepEqual([apiStats['changes'], apiStats['added'], apiStats['removed'], apiStats['reweighted']], [4, 1, 2, 1]);
    assert.deepEqual(apiStats['lastChange'], { origin: 'admin', agoMs: 0, message: 'cluster api: draining 10.0.0.2:8080 (by admin)' });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('cluster membership: a DNS or file answer replaces the set through the same diff; no change, no event', () => {
  const m = new ClusterMembership('dyn', 'dns', [ep('10.0.1.1:80'), ep('10.0.1.2:80')]);
  const seen: MembershipChange[] = [];
  m.on('change', (c) => seen.push(c));
  assert.equal(m.replace([ep('10.0.1.2:80'), ep('10.0.1.1:80')], 'dns').added.length, 0);
  assert.equal(seen.length, 0, 'same set in another order is no change');
  m.replace([ep('10.0.1.2:80', 3), ep('10.0.1.3:80')], 'dns');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.message, 'cluster dyn: added 10.0.1.3:80; draining 10.0.1.1:80; 10.0.1.2:80 weight 1 -> 3 (by dns)');
  assert.deepEqual(m.endpoints.map((e) => [e.address, e.weight]), [['10.0.1.2:80', 3], ['10.0.1.3:80', 1]]);
  assert.throws(() => new ClusterMembership('x', 'endpoints', [ep('a:1'), ep('a:1')]), /appears twice/);
  assert.throws(() => m.remove('10.0.1.2:80'), /takes its endpoints from its DNS records/);
});
