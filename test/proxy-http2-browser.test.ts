/**
 * Headless Chromium (Debian's chromium driven by playwright-core) loads a page through the
 * proxy's HTTPS listener: it negotiates h2 by ALPN, the navigation reports `h2` as its protocol,
 * and a 1 MiB chunked response fetched by the page arrives whole over the same HTTP/2 session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { skipFor } from './helpers/lease-prerequisites.js';
import { MIB_BODY, startBackend, startH2Proxy } from './helpers/proxy-http2.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'];
const skip = skipFor('proxy HTTP/2 in Chromium', existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}`);

test('Chromium loads a page over the HTTPS listener and reports h2; a 1 MiB chunked fetch arrives whole', { skip, timeout: 120_000 }, async (t) => {
  const backend = await startBackend();
  t.after(() => backend.close());
  const h2 = await startH2Proxy(backend.port);
  t.after(() => h2.close());
  const profile = mkdtempSync(path.join(os.tmpdir(), 'lifeline-chromium-'));
  t.after(() => rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, ignoreHTTPSErrors: true });
  t.after(() => context.close());
  const page = await context.newPage();
  const response = await page.goto(`https://127.0.0.1:${h2.tlsPort}/small`, { timeout: 30_000 });
  assert.equal(response?.status(), 200);
  // Page-side code as strings: this file is type-checked without the DOM library.
  assert.equal(await page.evaluate<string>('document.body.innerText.trim()'), 'small');
  const protocol = await page.evaluate<string>("performance.getEntriesByType('navigation')[0].nextHopProtocol");
  assert.equal(protocol, 'h2', 'the navigation went over HTTP/2');
  const fetched = await page.evaluate<{ length: number; sum: number; protocol: string }>(`(async () => {
    const r = await fetch('/big');
    const bytes = new Uint8Array(await r.arrayBuffer());
    let sum = 0;
    for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) % 1000000007;
    const entry = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/big'));
    return { length: bytes.length, sum, protocol: entry ? entry.nextHopProtocol : '' };
  })()`);
  let want = 0;
  for (const b of MIB_BODY) want = (want * 31 + b) % 1_000_000_007;
  assert.deepEqual(fetched, { length: MIB_BODY.length, sum: want, protocol: 'h2' });
  const stats = h2.proxy.metrics.listener('tls').stats();
  assert.ok(stats.rq['2xx'] >= 2);
});
