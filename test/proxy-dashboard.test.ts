/**
 * The admin dashboard in real headless Chromium (Debian's chromium driven by playwright-core, as
 * the page keep-alive test does), against a real proxy, real backends and real traffic:
 *
 * - the page loads and goes live over Server-Sent Events with no console error;
 * - under traffic its request rate rises from 0;
 * - a killed backend shows unhealthy on the page within the health check's bound
 *   (intervalMs x fall + timeoutMs) plus one feed interval;
 * - a screenshot is written to test-output/dashboard.png for a person to look at;
 * - with admin.token the page asks for it, and after the login form the page and its stream work;
 * - the feed stays the same size with 10,000 open client connections (aggregates and a top few,
 *   never a row per connection).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { skipFor } from './helpers/lease-prerequisites.js';
import { startRawBackend } from './helpers/proxy-backends.js';
import type { RawBackend } from './helpers/proxy-backends.js';
import { attempt, request, ROOT, startProxy, waitUntil } from './helpers/proxy-harness.js';

/** A child that opens N connections to 127.0.0.1:PORT, 200 at a time, prints "open N", and holds them until killed. */
const HOLDER = `
const net = require('node:net');
const [port, count] = process.argv.slice(1).map(Number);
const sockets = [];
(async () => {
  for (let i = 0; i < count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', resolve);
      s.on('error', reject);
      sockets.push(s);
    })));
  }
  process.stdout.write('open ' + sockets.length + '\\n');
})().catch((e) => { console.error(e); process.exit(1); });
`;

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = skipFor('proxy-dashboard', existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}`);

const INTERVAL_MS = 200;
const TIMEOUT_MS = 150;
const FALL = 2;
/** The feed samples once a second: the page learns of a change at most this much later. */
const FEED_MS = 1_000;
/** Event-loop lag on a loaded 2-core machine (this process runs the proxy, backends and load). */
const SLACK_MS = 700;

let context: BrowserContext | undefined;
let profile: string | undefined;

before(async () => {
  if (skip !== false) return;
  profile = mkdtempSync(path.join(os.tmpdir(), 'lifeline-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 1000 } });
});
after(async () => {
  await context?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

function yaml(backends: readonly RawBackend[], admin = 'admin:\n  address: 127.0.0.1:0\n'): string {
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    balancer: round-robin
    endpoints:
${backends.map((b) => `      - address: 127.0.0.1:${b.port}\n`).join('')}    healthCheck:
      path: /healthz
      intervalMs: ${INTERVAL_MS}
      timeoutMs: ${TIMEOUT_MS}
      fall: ${FALL}
      rise: 1
${admin}accessLog:
  target: "off"
eventLog:
  target: "off"
`;
}

/** Console errors and uncaught page errors, collected for the whole page's life. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

async function ticks(page: Page): Promise<number> {
  return Number((await page.locator('body').getAttribute('data-ticks')) ?? '0');
}

test('the dashboard goes live with no console error, its request rate rises under traffic, a killed backend turns unhealthy within the bound', { skip, timeout: 60_000 }, async (t) => {
  const a = await startRawBackend({ name: 'a' });
  const b = await startRawBackend({ name: 'b' });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(yaml([a, b]));
  t.after(() => proxy.close());
  const page = await (context as BrowserContext).newPage();
  t.after(() => page.close());
  const errors = watchErrors(page);

  await page.goto(`http://127.0.0.1:${proxy.adminPort() as number}/`);
  await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 5_000 });
  await waitUntil(async () => (await ticks(page)) >= 1, 3_000, 50);
  assert.ok((await ticks(page)) >= 1, 'no tick reached the page within 3 s');
  const idleRps = Number(await page.locator('#rps').getAttribute('data-value'));
  assert.equal(idleRps, 0, 'no traffic yet');
  assert.equal(await page.locator(`[data-endpoint="127.0.0.1:${a.port}"]`).getAttribute('data-health'), 'healthy');
  assert.equal(await page.locator('[data-listener="main"] td').first().textContent(), 'main');

  // Traffic: four keep-alive lanes until stopped.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  let running = true;
  let sent = 0;
  const lanes = Array.from({ length: 4 }, async () => {
    for (let i = 0; running && i < 200_000; i++) {
      sent += 1;
      await attempt(proxy.port(), { path: `/p${i}`, agent });
    }
  });
  let peak = 0;
  await waitUntil(async () => {
    peak = Math.max(peak, Number(await page.locator('#rps').getAttribute('data-value')));
    return peak >= 20;
  }, 6_000, 100);
  assert.ok(peak >= 20, `the page's request rate reached only ${peak}/s after 6 s of traffic (${sent} requests sent)`);
  assert.notEqual(await page.locator('#p50').textContent(), 'n/a', 'latency percentiles shown under traffic');

  // Kill b: the page shows it unhealthy within intervalMs x fall + timeoutMs, plus one feed interval.
  const bound = INTERVAL_MS * FALL + TIMEOUT_MS + FEED_MS + SLACK_MS;
  const killedAt = performance.now();
  await b.kill();
  const row = page.locator(`[data-endpoint="127.0.0.1:${b.port}"]`);
  const took = await waitUntil(async () => (await row.getAttribute('data-health')) === 'unhealthy', bound + 2_000, 20);
  const elapsed = performance.now() - killedAt;
  t.diagnostic(`killed backend shown unhealthy after ${Math.round(elapsed)} ms (bound ${bound} ms); peak ${Math.round(peak)} req/s`);
  assert.ok(took !== undefined, `the killed backend was not shown unhealthy within ${bound + 2_000} ms`);
  assert.ok(elapsed <= bound, `shown unhealthy after ${Math.round(elapsed)} ms, bound ${bound} ms`);
  assert.equal(await row.locator('.health').textContent(), 'unhealthy');
  assert.equal(await page.locator(`[data-endpoint="127.0.0.1:${a.port}"]`).getAttribute('data-health'), 'healthy');

  // Let a few more seconds of traffic draw the charts, then the screenshot.
  await new Promise((r) => setTimeout(r, 2_500));
  running = false;
  await Promise.all(lanes);
  const dir = path.join(ROOT, 'test-output');
  mkdirSync(dir, { recursive: true });
  const shot = path.join(dir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.diagnostic(`screenshot: ${shot}`);
  assert.ok(statSync(shot).size > 10_000, 'a real screenshot was written');
  assert.deepEqual(errors, [], 'console errors on the dashboard');
  // Closed before the proxy, so its stream does not end under it.
  await page.close();
});

test('with admin.token the page asks for the token; after the login form the dashboard and its stream work', { skip, timeout: 30_000 }, async (t) => {
  const TOKEN = 'dashboard-token-0123456789';
  const a = await startRawBackend({ name: 'a' });
  t.after(() => a.close());
  const proxy = await startProxy(yaml([a], `admin:\n  address: 127.0.0.1:0\n  token: ${TOKEN}\n`));
  t.after(() => proxy.close());
  const page = await (context as BrowserContext).newPage();
  t.after(() => page.close());
  const base = `http://127.0.0.1:${proxy.adminPort() as number}`;
  const first = await page.goto(`${base}/`);
  assert.equal(first?.status(), 401);
  await page.locator('input[name="token"]').fill('wrong-token-000000000');
  await page.locator('button').click();
  await page.locator('[role="alert"]', { hasText: 'Wrong token' }).waitFor({ timeout: 5_000 });
  await page.locator('input[name="token"]').fill(TOKEN);
  await page.locator('button').click();
  await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 5_000 });
  await waitUntil(async () => (await ticks(page)) >= 1, 3_000, 50);
  assert.ok((await ticks(page)) >= 1, 'the stream delivered a tick after login');
  assert.ok(!page.url().includes(TOKEN), 'the token is not in the URL');
  const cookies = await page.context().cookies(base);
  assert.equal(cookies.find((c) => c.name === 'lifeline_admin')?.httpOnly, true);
});

test('the feed has the same size with 10,000 open client connections: aggregates and a top few', { timeout: 60_000 }, async (t) => {
  const a = await startRawBackend({ name: 'a' });
  t.after(() => a.close());
  const proxy = await startProxy(yaml([a]));
  t.after(() => proxy.close());
  const admin = proxy.adminPort() as number;
  /** The feed's current state (history aside, which grows by a point a second whatever the load). */
  const size = async (): Promise<{ bytes: number; state: { listeners: { connections: { idle: number; active: number } }[]; oldest: unknown[]; longestIdle: unknown[] } }> => {
    const r = await request(admin, { path: '/api/dashboard' });
    const body = JSON.parse(r.body) as { state: never };
    return { bytes: JSON.stringify(body.state).length, state: body.state };
  };
  // One request first, so the listener's counters exist in the baseline (they appear with its
  // first connection).
  assert.equal((await request(proxy.port())).status, 200);
  let before = await size();
  await waitUntil(async () => {
    before = await size();
    return before.state.listeners[0]?.connections.active === 0 && JSON.stringify(before.state).includes('"2xx":1');
  }, 5_000, 100);
  // The client ends live in a child process, so the two ends of 10,000 connections do not share
  // this process's file descriptor limit.
  const COUNT = 10_000;
  const holder = spawn(process.execPath, ['-e', HOLDER, String(proxy.port()), String(COUNT)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    holder.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) resolve(out.trim());
    });
    holder.once('exit', (code) => reject(new Error(`the connection holder exited ${code}`)));
  });
  assert.equal(ready, `open ${COUNT}`);
  // The feed samples once a second: wait for a sample that sees them all.
  let now = await size();
  await waitUntil(async () => {
    now = await size();
    const l = now.state.listeners[0]?.connections;
    return l !== undefined && l.active + l.idle >= COUNT;
  }, 10_000, 200);
  const l = now.state.listeners[0]?.connections;
  assert.ok(l !== undefined && l.active + l.idle >= COUNT, `the feed counted ${JSON.stringify(l)}`);
  assert.equal(now.state.oldest.length, 5, 'the five oldest connections');
  t.diagnostic(`dashboard state: ${before.bytes} bytes with no connection, ${now.bytes} with ${COUNT}`);
  // Five oldest rows (about 120 bytes each) are all that may be added.
  assert.ok(now.bytes < before.bytes + 1_000, `the state grew from ${before.bytes} to ${now.bytes} bytes`);
});
