/**
 * bench/http2's own measuring parts, against real peers (node:http2 servers on 127.0.0.1 port 0,
 * the real h2load): the summary and per-request log parsers, the measured-window callbacks, the
 * idle h2c client's success and failure accounting, and the readiness check's insistence on h2.
 * Not part of `npm test` (it tests a benchmark, not the library):
 *   node --test --test-timeout=120000 dist/bench/http2/harness.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { skipFor } from '../../test/helpers/lease-prerequisites.js';
import { ROOT, h2get, makeCert } from './fronts.js';
import { h2load, logLatencies, parseSummary, percentile } from './h2load.js';

const hasH2load = spawnSync('sh', ['-c', 'command -v h2load'], { stdio: 'ignore' }).status === 0;
const skip = skipFor('bench/http2 harness', hasH2load ? undefined : 'h2load not installed (Debian nghttp2-client)');

/** A node:http2 h2c server on port 0 answering every request with `status` and 100 bytes (null: never answering). */
async function h2cServer(status: number | null): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http2.createServer((_req, res) => {
    if (status === null) return;
    res.writeHead(status, { 'content-length': 100 });
    res.end(Buffer.alloc(100, 'x'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Run peers/idle-h2-clients.mjs for `count` connections; its "idle held failed" line. */
async function idleClients(port: number, count: number): Promise<[number, number]> {
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'http2', 'peers', 'idle-h2-clients.mjs'), String(port), String(count)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  try {
    return await new Promise<[number, number]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no report within 30 s: ${out}`)), 30_000);
      child.stdout.on('data', (d: string) => {
        out += d;
        const m = /idle (\d+) (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve([Number(m[1]), Number(m[2])]);
        }
      });
    });
  } finally {
    child.kill('SIGKILL');
  }
}

const SAMPLE = `finished in 3.00s, 59455.00 req/s, 7.66MB/s
requests: 118910 total, 118910 started, 118910 done, 118905 succeeded, 2 failed, 3 errored, 1 timeout
status codes: 118900 2xx, 1 3xx, 2 4xx, 4 5xx
traffic: 15.31MB (16055600) total, 1.33MB (1392740) headers (space savings 90.24%), 16.60MB (17403000) data
                     min         max         mean         sd        +/- sd
time for request:      293us      8.57ms       818us       631us    93.95%
`;

test('parseSummary reads requests, req/s, failures, non-2xx and the mean; refuses output without a summary', () => {
  const { meanMs, ...s } = parseSummary(SAMPLE);
  assert.deepEqual(s, { requests: 118910, rps: 59455, failed: 6, non2xx: 7 });
  assert.ok(Math.abs(meanMs - 0.818) < 1e-9, `mean ${meanMs} ms, want 0.818 (818us)`);
  assert.throws(() => parseSummary('h2load: connection refused\n'), /h2load output has no requests line/);
});

test('logLatencies drops the cut-off requests (status 0) and percentile is nearest rank', () => {
  const lines = ['1\t0\t5000000', ...Array.from({ length: 100 }, (_, i) => `1\t200\t${(100 - i) * 1000}`), ''];
  const sorted = logLatencies(lines.join('\n'));
  assert.equal(sorted.length, 100);
  assert.equal(sorted[0], 1);
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 99), 99);
  assert.equal(percentile(sorted, 100), 100);
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 50)));
});

test('h2load against a real node:http2 server: the measured window opens and closes once, in order, and the figures agree', { skip }, async () => {
  const server = await h2cServer(200);
  const dir = mkdtempSync(join(tmpdir(), 'bench-http2-harness-'));
  try {
    const events: [string, number][] = [];
    const run = await h2load({
      core: 0,
      url: `http://127.0.0.1:${server.port}/`,
      clients: 2,
      streams: 4,
      seconds: 2,
      warmupSeconds: 1,
      logFile: join(dir, 'log'),
      onMeasureStart: () => void events.push(['start', Date.now()]),
      onMeasureEnd: () => void events.push(['end', Date.now()]),
    });
    assert.deepEqual(events.map((e) => e[0]), ['start', 'end']);
    const windowMs = (events[1]?.[1] ?? 0) - (events[0]?.[1] ?? 0);
    assert.ok(windowMs > 1_700 && windowMs < 2_600, `measured window ${windowMs} ms, want about 2,000`);
    assert.ok(run.requests > 100, `only ${run.requests} requests`);
    assert.ok(Math.abs(run.rps * 2 - run.requests) / run.requests < 0.05, `req/s ${run.rps} disagrees with ${run.requests} requests in 2 s`);
    assert.equal(run.failed, 0);
    assert.equal(run.non2xx, 0);
    assert.ok(run.p50Ms > 0 && run.p50Ms <= run.p99Ms, `p50 ${run.p50Ms}, p99 ${run.p99Ms}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});

test('h2load: a 404 server is counted as non-2xx, not as success', { skip }, async () => {
  const server = await h2cServer(404);
  const dir = mkdtempSync(join(tmpdir(), 'bench-http2-harness-'));
  try {
    const run = await h2load({ core: 0, url: `http://127.0.0.1:${server.port}/`, clients: 1, streams: 2, seconds: 1, warmupSeconds: 1, logFile: join(dir, 'log') });
    assert.ok(run.non2xx > 0 && run.non2xx >= run.requests - 2, `non-2xx ${run.non2xx} of ${run.requests}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});

test('h2load against a front that never answers: an error, not a zero figure', { skip }, async () => {
  const server = await h2cServer(null);
  const dir = mkdtempSync(join(tmpdir(), 'bench-http2-harness-'));
  try {
    await assert.rejects(
      h2load({ core: 0, url: `http://127.0.0.1:${server.port}/`, clients: 1, streams: 2, seconds: 1, warmupSeconds: 1, logFile: join(dir, 'log') }),
      /h2load completed no request/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});

test('an h2load that never exits is killed after its grace period and reported, not waited for', async () => {
  // A stand-in h2load on PATH: real h2load waited once for streams a front never finished (a
  // quick run against http2-proxy over TLS) but no server written here makes it hang on demand.
  const dir = mkdtempSync(join(tmpdir(), 'bench-http2-harness-'));
  const fake = join(dir, 'h2load');
  writeFileSync(fake, '#!/bin/sh\necho "Warm-up phase is over for thread #0."\necho "Main benchmark duration is over for thread #0. Stopping all clients."\nexec sleep 60\n');
  chmodSync(fake, 0o755);
  const path = process.env['PATH'];
  process.env['PATH'] = `${dir}:${path ?? ''}`;
  const started = Date.now();
  try {
    await assert.rejects(
      h2load({ core: 0, url: 'http://127.0.0.1:1/', clients: 1, streams: 1, seconds: 1, warmupSeconds: 1, logFile: join(dir, 'log'), graceMs: 1_000 }),
      /h2load did not finish within 3 s \(killed\)/,
    );
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  } finally {
    process.env['PATH'] = path;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idle-h2-clients holds every connection that got a 200 and counts the others as failed', async () => {
  const ok = await h2cServer(200);
  const notFound = await h2cServer(404);
  try {
    assert.deepEqual(await idleClients(ok.port, 30), [30, 0]);
    assert.deepEqual(await idleClients(notFound.port, 7), [0, 7]);
  } finally {
    await ok.close();
    await notFound.close();
  }
});

test('h2get over TLS insists on ALPN h2: an HTTP/1.1-only TLS server is not ready', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-http2-harness-'));
  const { certFile, keyFile } = makeCert(dir);
  const h2 = http2.createSecureServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_req, res) => res.end('ok'));
  const h1 = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), ALPNProtocols: ['http/1.1'] }, (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  try {
    const good = await h2get((h2.address() as net.AddressInfo).port, 'tls', '/');
    assert.equal(good?.status, 200);
    assert.equal(good?.body.toString(), 'ok');
    assert.equal(await h2get((h1.address() as net.AddressInfo).port, 'tls', '/'), null);
  } finally {
    await new Promise((r) => h2.close(r));
    await new Promise((r) => h1.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
