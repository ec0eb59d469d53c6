/**
 * The lease dashboard (`lifeline lease serve`'s `/lifeline/leases`) and the stores' overview:
 *
 * - in real headless Chromium: the page asks for the API token, refuses a wrong one, then lists
 *   the live leases soonest-to-expire first with holder, fencing token and a time left that
 *   counts down, and the live count, updated by its event stream; no console error; screenshot;
 * - the event stream needs the bearer token;
 * - overview() of the memory store and of the Redis store (a real redis-server): the count and
 *   the `limit` soonest to expire, in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { MemoryLeaseStore } from '../src/lease/memory-lease-store.js';
import { RedisLeaseStore } from '../src/lease/redis-lease-store.js';
import { serveLeases } from '../src/lease/lease-http-server.js';
import { skipFor } from './helpers/lease-prerequisites.js';
import { testRedis, uniquePrefix } from './helpers/redis.js';
import { ROOT } from './helpers/proxy-harness.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = skipFor('lease-dashboard', existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}`);
const target = await testRedis();
const redisSkip = skipFor('lease-dashboard (redis)', typeof target === 'string' ? target : undefined);
const TOKEN = 'lease-dashboard-secret-0123';

let context: BrowserContext | undefined;
let profile: string | undefined;
before(async () => {
  if (skip !== false) return;
  profile = mkdtempSync(path.join(os.tmpdir(), 'lifeline-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 700 } });
});
after(async () => {
  await context?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  if (typeof target !== 'string') await target.server?.stop();
});

test('the lease page asks for the token, then lists leases soonest to expire with holder and a time left that counts down', { skip, timeout: 30_000 }, async (t) => {
  const store = new MemoryLeaseStore({ resolutionMs: 10 });
  const api = await serveLeases({ store, bearerToken: TOKEN });
  t.after(async () => {
    await api.close();
    await store.close();
  });
  await store.grant(60_000, { id: 'job:nightly', holder: 'worker-3' });
  await store.grant(20_000, { id: 'job:report', holder: 'worker-9' });
  await store.grant(40_000);

  // The stream is the API's: no token, no leases.
  assert.equal((await fetch(`${api.url}/lifeline/events`)).status, 401);

  const page = await (context as BrowserContext).newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    // The browser logs the refused token's 401 as a failed resource load: expected once.
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${api.url}/lifeline/leases`);
  await page.locator('input[name="token"]').fill('not-the-token-00000000');
  await page.locator('button').click();
  await page.locator('#login-error', { hasText: 'Wrong token.' }).waitFor({ timeout: 5_000 });
  await page.locator('input[name="token"]').fill(TOKEN);
  await page.locator('button').click();
  await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 5_000 });
  await page.locator('[data-lease="job:nightly"]').waitFor({ timeout: 5_000 });
  assert.equal(await page.locator('#count').textContent(), '3');
  const ids: (string | null)[] = [];
  for (const row of await page.locator('[data-lease]').all()) ids.push(await row.getAttribute('data-lease'));
  assert.equal(ids.length, 3);
  assert.deepEqual([ids[0], ids[2]], ['job:report', 'job:nightly'], 'soonest to expire first');
  const cells = (id: string): Promise<string[]> => page.locator(`[data-lease="${id}"] td`).allTextContents();
  const first = await cells('job:report');
  assert.equal(first[1], 'worker-9');
  assert.match(first[3] ?? '', /^1\d\.\d s$/);
  const left = (text: string | undefined): number => Number((text ?? '').replace(' s', ''));
  // Two updates later the time left is lower.
  const before = left(first[3]);
  const until = performance.now() + 5_000;
  let now = before;
  while (performance.now() < until && now > before - 1.5) {
    await new Promise((r) => setTimeout(r, 100));
    now = left((await cells('job:report'))[3]);
  }
  assert.ok(now <= before - 1.5, `time left went from ${before} s to ${now} s`);

  await store.revoke('job:report');
  await page.locator('#count', { hasText: '2' }).waitFor({ timeout: 3_000 });
  const dir = path.join(ROOT, 'test-output');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, 'lease-dashboard.png'), fullPage: true });
  await page.close();
  assert.deepEqual(errors, [], 'console errors on the lease page');
});

test('MemoryLeaseStore.overview: the count and the limit soonest to expire, in order', async () => {
  const store = new MemoryLeaseStore({ resolutionMs: 10 });
  try {
    for (const [i, ttl] of [50_000, 10_000, 30_000, 20_000, 40_000].entries()) await store.grant(ttl, { id: `l${i}`, holder: `h${i}` });
    const o = await store.overview(3);
    assert.equal(o.count, 5);
    assert.deepEqual(o.leases.map((l) => l.id), ['l1', 'l3', 'l2']);
    assert.deepEqual(o.leases.map((l) => l.holder), ['h1', 'h3', 'h2']);
    assert.ok(o.leases.every((l, i) => i === 0 || l.remainingMs >= (o.leases[i - 1]?.remainingMs ?? 0)));
    assert.deepEqual((await store.overview(10)).leases.length, 5);
  } finally {
    await store.close();
  }
});

test('RedisLeaseStore.overview against a real redis-server: the count and the limit soonest to expire, in order', { skip: redisSkip }, async () => {
  const store = await RedisLeaseStore.connect({ url: (target as { url: string }).url, prefix: uniquePrefix('overview') });
  try {
    for (const [i, ttl] of [50_000, 10_000, 30_000, 20_000, 40_000].entries()) await store.grant(ttl, { id: `l${i}`, holder: `h${i}` });
    const o = await store.overview(3);
    assert.equal(o.count, 5);
    assert.deepEqual(o.leases.map((l) => l.id), ['l1', 'l3', 'l2']);
    assert.deepEqual(o.leases.map((l) => l.holder), ['h1', 'h3', 'h2']);
    assert.ok((o.leases[0]?.remainingMs ?? 0) > 9_000 && (o.leases[0]?.remainingMs ?? 0) <= 10_000);
    await store.revoke('l1');
    const after = await store.overview(3);
    assert.equal(after.count, 4);
    assert.equal(after.leases[0]?.id, 'l3');
  } finally {
    for (const id of ['l0', 'l2', 'l3', 'l4']) await store.revoke(id).catch(() => undefined);
    await store.close();
  }
});
