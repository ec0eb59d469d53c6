/**
 * The page keep-alive script in real headless Chromium (Debian's chromium driven by
 * playwright-core): an open page keeps its lease past three TTLs and shows the time left live;
 * leaving the page releases the lease at once by sendBeacon; a closed page's lease is gone at
 * once or within one TTL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { MemoryLeaseStore } from '../src/lease/memory-lease-store.js';
import { serveLeases } from '../src/lease/lease-http-server.js';
import type { LeaseServer } from '../src/lease/lease-http-server.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = skipFor('page-keepalive', existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}`);

const TTL = 1500;
const store = new MemoryLeaseStore({ resolutionMs: 10 });
const ended: { id: string; how: 'revoked' | 'expired'; at: number }[] = [];
store.on('revoked', (l) => ended.push({ id: l.id, how: 'revoked', at: performance.now() }));
store.on('expired', (l) => ended.push({ id: l.id, how: 'expired', at: performance.now() }));
let api: LeaseServer;
let context: BrowserContext | undefined;
let profile: string | undefined;

before(async () => {
  api = await serveLeases({ store, bearerToken: 'page-test-secret-0123', demo: true });
  if (skip !== false) return;
  profile = mkdtempSync(path.join(os.tmpdir(), 'lifeline-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
});
after(async () => {
  await context?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  await api.close();
  await store.close();
});

async function waitEnded(id: string, withinMs: number): Promise<{ how: string; at: number } | undefined> {
  const until = performance.now() + withinMs;
  while (performance.now() < until) {
    const e = ended.find((x) => x.id === id);
    if (e !== undefined) return e;
    await sleep(10);
  }
  return undefined;
}

test('an open page keeps its lease past three TTLs and shows the time left live', { skip, timeout: 30_000 }, async () => {
  const page = await (context as BrowserContext).newPage();
  await page.goto(`${api.url}/lifeline/demo?ttlMs=${TTL}`);
  const id = (await page.locator('#lease-id').getAttribute('data-lease-id')) as string;
  assert.ok(store.getSync(id));
  const shown: string[] = [];
  const start = performance.now();
  while (performance.now() - start < 3 * TTL + 500) {
    shown.push((await page.locator('#remaining').textContent()) ?? '');
    await sleep(130);
  }
  assert.ok(store.getSync(id), 'still alive after three TTLs');
  assert.equal(ended.filter((e) => e.id === id).length, 0);
  const renewals = Number(await page.locator('#status').getAttribute('data-renewals'));
  assert.ok(renewals >= 8, `${renewals} keep-alives in 3 TTLs at TTL/3`);
  assert.ok(new Set(shown).size >= 4, `the remaining time moves: ${shown.join(' ')}`);
  assert.ok(shown.every((s) => /^\d+\.\d s$/.test(s) && Number.parseFloat(s) <= TTL / 1000), shown.join(' '));

  // Leaving the page fires pagehide: the beacon releases the lease at once.
  const left = performance.now();
  await page.goto('about:blank');
  const e = await waitEnded(id, 1000);
  assert.equal(e?.how, 'revoked', 'released by the beacon, not by expiry');
  assert.ok((e?.at ?? Infinity) - left < 1000, 'at once');
  await page.close();
});

test('closing the page ends its lease at once (beacon) or within one TTL', { skip, timeout: 30_000 }, async () => {
  const page = await (context as BrowserContext).newPage();
  await page.goto(`${api.url}/lifeline/demo?ttlMs=${TTL}`);
  const id = (await page.locator('#lease-id').getAttribute('data-lease-id')) as string;
  await sleep(TTL);
  assert.ok(store.getSync(id));
  const closed = performance.now();
  await page.close();
  const e = await waitEnded(id, TTL + 200);
  assert.ok(e !== undefined, 'the lease ended within one TTL of the close');
  console.log(`# page closed: lease ${e.how} ${(e.at - closed).toFixed(0)} ms after the close`);
  assert.equal(store.getSync(id), undefined);
});

test('a hidden page keeps its lease at the slower period', { skip, timeout: 30_000 }, async () => {
  const page = await (context as BrowserContext).newPage();
  await page.goto(`${api.url}/lifeline/demo?ttlMs=${TTL}`);
  const id = (await page.locator('#lease-id').getAttribute('data-lease-id')) as string;
  // Make the page report hidden and tell the script, as a tab switch would.
  await page.evaluate(`
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  `);
  await sleep(300);
  const r0 = Number(await page.locator('#status').getAttribute('data-renewals'));
  await sleep(3 * TTL);
  const r1 = Number(await page.locator('#status').getAttribute('data-renewals'));
  assert.ok(store.getSync(id), 'hidden page still holds the lease');
  assert.match((await page.locator('#status').textContent()) ?? '', /hidden/);
  // TTL/2 while hidden: about 6 in 3 TTLs (9 when visible)
  assert.ok(r1 - r0 >= 4 && r1 - r0 <= 7, `${r1 - r0} keep-alives in 3 TTLs while hidden`);
  await page.close();
});
