/**
 * The lease HTTP API: bearer auth, page access by lease token, JSON errors with their own code
 * for each bad input (and nothing else's lease touched), mounting under a prefix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryLeaseStore } from '../src/lease/memory-lease-store.js';
import { createLeaseHttpHandler } from '../src/lease/lease-http-handler.js';
import { serveLeases } from '../src/lease/lease-http-server.js';
import type { LeaseServer } from '../src/lease/lease-http-server.js';

const SECRET = 'test-secret-0123456789';
const store = new MemoryLeaseStore();
let api: LeaseServer;

before(async () => {
  api = await serveLeases({ store, bearerToken: SECRET });
});
after(async () => {
  await api.close();
  await store.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(method: string, path: string, body?: unknown, auth: string | null = SECRET, base = api.url): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
}

const code = (a: Answer): unknown => (a.body.error as { code?: unknown } | undefined)?.code;

test('grant, get, keep-alive and revoke through the API', async () => {
  const granted = await call('POST', '/leases', { ttlMs: 5000, holder: 'api-test', metadata: { n: 1 } });
  assert.equal(granted.status, 201);
  const { id, token } = granted.body as { id: string; token: number };
  assert.equal((await call('GET', `/leases/${id}`)).body.holder, 'api-test');
  const kept = await call('POST', `/leases/${id}/keepalive`, { token });
  assert.equal(kept.status, 200);
  assert.equal(kept.body.remainingMs, 5000);
  const revoked = await call('DELETE', `/leases/${id}?token=${token}`);
  assert.equal(revoked.status, 200);
  assert.equal((await call('GET', `/leases/${id}`)).status, 404);
});

test('bad TTL, unknown id, wrong token and no credentials each get their own code; nothing else is touched', async () => {
  const other = (await call('POST', '/leases', { ttlMs: 60_000, id: 'bystander' })).body as { id: string; token: number };
  const mine = (await call('POST', '/leases', { ttlMs: 60_000, id: 'mine' })).body as { id: string; token: number };
  const before = store.getSync('bystander');

  for (const ttlMs of [0, -1, 'soon', 1.5, 10 ** 12, null]) {
    const a = await call('POST', '/leases', { ttlMs });
    assert.equal(a.status, 400, `ttlMs ${String(ttlMs)}`);
    assert.equal(code(a), 'ERR_LEASE_BAD_TTL');
  }
  assert.equal(code(await call('POST', '/leases', {})), 'ERR_LEASE_BAD_TTL');

  const unknown = await call('POST', '/leases/no-such-lease/keepalive', { token: 1 });
  assert.equal(unknown.status, 404);
  assert.equal(code(unknown), 'ERR_LEASE_NOT_FOUND');
  assert.equal(code(await call('GET', '/leases/no-such-lease')), 'ERR_LEASE_NOT_FOUND');

  const wrong = await call('POST', '/leases/mine/keepalive', { token: other.token });
  assert.equal(wrong.status, 409);
  assert.equal(code(wrong), 'ERR_LEASE_TOKEN_MISMATCH');
  assert.equal(code(await call('DELETE', '/leases/mine', { token: mine.token + 1 })), 'ERR_LEASE_TOKEN_MISMATCH');

  for (const auth of [null, 'wrong-secret-wrong-secret', '']) {
    for (const [method, path, body] of [
      ['POST', '/leases', { ttlMs: 1000 }],
      ['GET', '/leases/mine', undefined],
      ['POST', '/leases/mine/keepalive', undefined],
      ['DELETE', '/leases/mine', undefined],
    ] as const) {
      const a = await call(method, path, body, auth);
      assert.equal(a.status, 401, `${method} ${path} with ${String(auth)}`);
      assert.equal(code(a), 'ERR_UNAUTHENTICATED');
      assert.match(a.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  }
  // A page may not touch a named lease with its token alone.
  assert.equal(code(await call('POST', '/leases/mine/keepalive', { token: mine.token }, null)), 'ERR_UNAUTHENTICATED');
  assert.equal(code(await call('POST', '/leases/mine/release', { token: mine.token }, null)), 'ERR_UNAUTHENTICATED');

  assert.equal(code(await call('POST', '/leases', '{not json')), 'ERR_LEASE_BAD_REQUEST');
  assert.equal(code(await call('POST', '/leases', { ttlMs: 1000, colour: 'red' })), 'ERR_LEASE_BAD_REQUEST');
  assert.equal(code(await call('POST', '/leases', { ttlMs: 1000, id: 'has space' })), 'ERR_LEASE_BAD_ID');
  assert.equal(code(await call('POST', '/leases/mine/keepalive', { token: 'x' })), 'ERR_LEASE_BAD_TOKEN');
  assert.equal(code(await call('POST', '/leases', { ttlMs: 1000, id: 'mine' })), 'ERR_LEASE_HELD');
  assert.equal((await call('PUT', '/leases/mine')).status, 405);

  // Nothing else's lease was touched: same token, deadline not pushed back.
  const after = store.getSync('bystander');
  assert.equal(after?.token, before?.token);
  assert.ok((after?.remainingMs ?? 0) <= (before?.remainingMs ?? 0));
  assert.equal(store.getSync('mine')?.token, mine.token);
});

test('a page keeps alive and releases a generated-id lease with the lease token alone', async () => {
  const { id, token } = (await call('POST', '/leases', { ttlMs: 5000 })).body as { id: string; token: number };
  assert.equal((await call('POST', `/leases/${id}/keepalive`, undefined, null)).status, 401, 'no token, no bearer');
  assert.equal((await call('POST', `/leases/${id}/keepalive`, { token }, null)).status, 200);
  assert.equal(code(await call('POST', `/leases/${id}/keepalive`, { token: token + 1 }, null)), 'ERR_LEASE_TOKEN_MISMATCH');
  // sendBeacon posts text/plain
  const res = await fetch(`${api.url}/leases/${id}/release`, { method: 'POST', body: JSON.stringify({ token }), headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  assert.equal(res.status, 200);
  assert.equal(store.getSync(id), undefined);
  const script = await fetch(`${api.url}/lifeline/page-keepalive.js`);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  assert.match(await script.text(), /export function keepLeaseAlive/);
});

test('the handler mounts under a prefix and leaves other paths to its host', async () => {
  const handler = createLeaseHttpHandler({ store, bearerToken: SECRET, basePath: '/admin/' });
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(418).end('host');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await call('POST', '/admin/leases', { ttlMs: 1000 }, SECRET, base)).status, 201);
    assert.equal((await fetch(`${base}/leases`)).status, 418);
    assert.equal((await fetch(`${base}/admin/other`)).status, 418);
    assert.equal((await fetch(`${base}/admin/lifeline/demo`)).status, 418, 'no demo unless asked');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
