/**
 * The tunnel's admin page in real headless Chromium, against a real tunnel server and client
 * over TLS: the server's page lists the session by name with its ping RTT and the time since its
 * last ping, live over Server-Sent Events; the client's page shows it connected; no console
 * error on either; screenshots in test-output/ for a person to look at.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import { TunnelClient } from '../src/tunnel/tunnel-client.js';
import { AdminServer } from '../src/tunnel/admin-server.js';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { skipFor } from './helpers/lease-prerequisites.js';
import { root, socksConnect, startOrigin } from './helpers/tunnel-harness.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = skipFor('tunnel-dashboard', existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}`);
const PING_MS = 300;

let context: BrowserContext | undefined;
let profile: string | undefined;

before(async () => {
  if (skip !== false) return;
  profile = mkdtempSync(path.join(os.tmpdir(), 'lifeline-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 800 } });
});
after(async () => {
  await context?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

/** Wait until the page has had `n` status events (body data-ticks), at most `withinMs`. */
async function waitTicks(page: Page, n: number, withinMs: number): Promise<void> {
  const until = performance.now() + withinMs;
  while (performance.now() < until) {
    if (Number(await page.locator('body').getAttribute('data-ticks')) >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`fewer than ${n} status events within ${withinMs} ms`);
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

test("the tunnel server's page shows the session with RTT and last ping, the client's shows it connected", { skip, timeout: 40_000 }, async (t) => {
  const pair = generateKeyPair();
  const origin = await startOrigin();
  const token = 'dashboard-token-0123456789abcdef';
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [token], allow: [`127.0.0.1:${origin.port}`], pingIntervalMs: PING_MS, clientTimeoutMs: PING_MS * 10 });
  const { port } = await server.listen();
  const admin = await AdminServer.listen('127.0.0.1', 0, { status: () => server.status(), metrics: () => server.metrics() });
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token, fingerprint: pair.fingerprint, name: 'laptop-7', pingIntervalMs: PING_MS });
  const clientAdmin = await client.listenAdmin('127.0.0.1', 0);
  const socks = await client.listenSocks('127.0.0.1', 0);
  const page = await (context as BrowserContext).newPage();
  t.after(async () => {
    await client.close();
    await admin.close();
    await server.close();
    await origin.close();
  });
  const errors = watchErrors(page);
  client.start();
  await client.waitConnected(5_000);
  // Some bytes, so the throughput chart has a line.
  const { socket } = await socksConnect(socks.address.port, '127.0.0.1', origin.port);
  socket.write('GET /bytes/200000/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  socket.resume();
  await new Promise((resolve) => socket.on('close', resolve));

  await page.goto(`http://127.0.0.1:${admin.port}/`);
  await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 5_000 });
  const row = page.locator('[data-session]', { hasText: 'laptop-7' });
  await row.waitFor({ timeout: 5_000 });
  // RTT is reported in the client's pings: wait for it and for "last ping ... ago".
  const cells = async (): Promise<string[]> => row.locator('td').allTextContents();
  const deadline = performance.now() + 5_000;
  let seen: string[] = await cells();
  while (performance.now() < deadline && (seen[5] === 'n/a' || !/ago$/.test(seen[6] ?? ''))) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await cells();
  }
  assert.match(seen[5] ?? '', /^\d+(\.\d)? ms$/, `RTT cell: ${JSON.stringify(seen)}`);
  assert.match(seen[6] ?? '', /ms ago$|s ago$/, `last ping cell: ${JSON.stringify(seen)}`);
  assert.equal(seen[4], 'open');
  assert.match((await page.locator('#summary').textContent()) ?? '', new RegExp(`^127\\.0\\.0\\.1:${port} \\(tls\\) · 1 open sessions`));
  // The last ping stays recent: the page is live, not a snapshot.
  const ticks = Number(await page.locator('body').getAttribute('data-ticks'));
  await waitTicks(page, ticks + 2, 5_000);
  const lastPing = (await cells())[6] ?? '';
  const agoMs = lastPing.endsWith(' ms ago') ? Number(lastPing.replace(' ms ago', '')) : Number(lastPing.replace(' s ago', '')) * 1000;
  assert.ok(agoMs <= PING_MS * 3 + 1_000, `last ping ${lastPing} with a ping every ${PING_MS} ms`);

  const dir = path.join(root, 'test-output');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, 'tunnel-server-dashboard.png'), fullPage: true });
  assert.ok(statSync(path.join(dir, 'tunnel-server-dashboard.png')).size > 5_000);

  const clientPage = await (context as BrowserContext).newPage();
  const clientErrors = watchErrors(clientPage);
  await clientPage.goto(`http://127.0.0.1:${clientAdmin.port}/`);
  await clientPage.locator('[data-state="connected"]').waitFor({ timeout: 5_000 });
  assert.equal(await clientPage.locator('#role').textContent(), 'client');
  await waitTicks(clientPage, 2, 5_000);
  await clientPage.screenshot({ path: path.join(dir, 'tunnel-client-dashboard.png'), fullPage: true });
  await clientPage.close();
  await page.close();
  assert.deepEqual(errors, [], 'console errors on the server page');
  assert.deepEqual(clientErrors, [], 'console errors on the client page');
});
