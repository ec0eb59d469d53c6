/**
 * Every runnable example under examples/ runs as a user would run it (short-lived: start, make a
 * request, stop), against the real Express, Fastify, axios and got. The examples import
 * `lifeline-keepalive/...` by name, which resolves to this checkout through the package's own
 * "exports" (Node's self-reference), so they are exactly what a user pastes. Also: each example
 * is named by a doc that shows it, and every examples/ path a doc names exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { WebSocket } from 'ws';
import { loadNativeTcp } from '../src/transport/native.js';
import { PrivateBus, privateBusUnavailable } from './helpers/dbus-bus.js';
import { skipFor } from './helpers/prerequisites.js';

/** Redis for the Redis example: LIFELINE_REDIS_URL (set by .ci/run); under LIFELINE_CI a missing one fails. */
function redisSkip(): string | false {
  return skipFor('examples (Redis)', process.env.LIFELINE_REDIS_URL === undefined || process.env.LIFELINE_REDIS_URL === '' ? 'LIFELINE_REDIS_URL is not set' : undefined);
}

/** D-Bus for the awake example (a private bus with a logind stand-in, as the awake tests use). */
function awakeSkip(): string | false {
  return skipFor('examples (D-Bus)', process.platform !== 'linux' ? 'not Linux' : privateBusUnavailable());
}

const ROOT = resolve(import.meta.dirname, '..', '..');
const EXAMPLES = join(ROOT, 'examples');
const DOCS = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).map((f) => join(ROOT, 'docs', f))];

interface Run {
  stdout: () => string;
  stderr: () => string;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpExecArray>;
  exit: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function start(file: string, args: string[] = [], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [join(EXAMPLES, file), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const waitFor = async (pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(stdout);
      if (m !== null) return m;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${file}: no ${String(pattern)}; stdout:\n${stdout}\nstderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { stdout: () => stdout, stderr: () => stderr, waitFor, exit, kill: (s) => child.exitCode === null && child.kill(s) };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

for (const [file, body] of [['http-server.mjs', 'ok\n'], ['express-server.mjs', 'ok'], ['fastify-server.mjs', 'ok']] as const) {
  test(`examples/${file}: serves, reports its policy, drains on SIGTERM and exits 0`, { timeout: 60_000 }, async (t) => {
    const run = start(file, [], { PORT: '0' });
    t.after(() => run.kill('SIGKILL'));
    const [, url] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000);
    const reply = await get(`${url ?? ''}/`);
    assert.deepEqual(reply, { status: 200, body });
    if (file !== 'http-server.mjs') {
      const stats = JSON.parse((await get(`${url ?? ''}/healthz/stats`)).body) as Record<string, unknown>;
      assert.equal(typeof stats.open, 'number', JSON.stringify(stats));
      assert.ok((stats.requests as number) >= 1, JSON.stringify(stats));
    }
    run.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    assert.match(run.stdout(), /drained \{/);
  });
}

test('examples/agent-client.mjs: three requests (http.get, axios, got) on one kept-alive connection', { timeout: 60_000 }, async (t) => {
  let connections = 0;
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', () => (connections += 1));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const run = start('agent-client.mjs', [`http://127.0.0.1:${(server.address() as AddressInfo).port}/`]);
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /"requests":3,"reused":2,"newConnections":1/);
  assert.equal(connections, 1);
});

test('examples/tunnel-library.mjs: a request through a SOCKS5 entry point and the tunnel', { timeout: 60_000 }, async (t) => {
  const run = start('tunnel-library.mjs');
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /SOCKS reply 0; echoed: hello through the tunnel/);
});

test('examples/lease-memory.mjs: acquire, fence, release', { timeout: 30_000 }, async (t) => {
  const run = start('lease-memory.mjs');
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /holding nightly-report with token \d+/);
});

test('examples/lease-redis.mjs: acquire, fence, release on a real Redis', { timeout: 30_000, skip: redisSkip() }, async (t) => {
  const run = start('lease-redis.mjs', [], { REDIS_URL: process.env.LIFELINE_REDIS_URL ?? '' });
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /holding nightly-report with token \d+ on Redis/);
});

test('examples/awake-job.mjs: held while the job runs, and around a command', { timeout: 30_000, skip: awakeSkip() }, async (t) => {
  const bus = await PrivateBus.start();
  t.after(() => bus.stop());
  const run = start('awake-job.mjs', [], { LIFELINE_SYSTEM_BUS_ADDRESS: bus.address });
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /held by logind[^\n]* while the job ran\nthe command ran/);
});

test('examples/tcp-keepalive.mjs: sets keepalive on a connection and reads it back', { timeout: 30_000 }, async (t) => {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const run = start('tcp-keepalive.mjs', ['127.0.0.1', String((server.address() as AddressInfo).port)]);
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /set \{[^}]*mechanism: '(native|fallback)'/);
  if (loadNativeTcp() !== undefined) assert.match(run.stdout(), /read back \{[^}]*idleMs: 30000[^}]*count: 3/);
});

test('examples/lease-memory-store.mjs: sync keep-alive, then an expiry event', { timeout: 30_000 }, async (t) => {
  const run = start('lease-memory-store.mjs');
  t.after(() => run.kill('SIGKILL'));
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /kept \S+ alive with token 1\nshort \(a short one\) expired\ntoken 2 is gone/);
});

test('examples/lease-http.mjs: grants over HTTP with the bearer token, 401 without, 404 off its paths', { timeout: 30_000 }, async (t) => {
  const token = 'example-bearer-token-0123456789';
  const run = start('lease-http.mjs', [], { PORT: '0', LEASE_TOKEN: token });
  t.after(() => run.kill('SIGKILL'));
  const [, url] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000);
  const grant = await fetch(`${url ?? ''}/leases`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ ttlMs: 5000, id: 'example' }) });
  assert.equal(grant.status, 201, await grant.text());
  assert.equal((await fetch(`${url ?? ''}/leases/example`)).status, 401);
  assert.equal((await fetch(`${url ?? ''}/elsewhere`)).status, 404);
  run.kill('SIGTERM');
  assert.equal(await run.exit, 0, run.stderr());
});

test('examples/websocket-heartbeat.mjs: a WebSocket peer is watched, echoed, and closed on SIGTERM', { timeout: 30_000 }, async (t) => {
  const run = start('websocket-heartbeat.mjs', [], { PORT: '0' });
  t.after(() => run.kill('SIGKILL'));
  const [, url] = await run.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/, 20_000);
  const ws = new WebSocket(url ?? '');
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send('hello');
  const [echo] = (await once(ws, 'message')) as [Buffer];
  assert.equal(echo.toString(), 'hello');
  const closed = once(ws, 'close');
  run.kill('SIGTERM');
  const [code] = (await closed) as [number];
  assert.equal(code, 1001);
  assert.equal(await run.exit, 0, run.stderr());
  assert.match(run.stdout(), /stats \{ open: 1, pingsSent: 0, terminated: 0 \}/);
});

test('every example is shown by a doc, and every examples/ path a doc names exists', () => {
  const docs = DOCS.map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.mjs'))) assert.ok(docs.includes(`examples/${file}`), `no doc shows examples/${file}`);
  for (const m of docs.matchAll(/examples\/([\w./-]+\.(?:mjs|yaml|md))/g)) assert.ok(existsSync(join(EXAMPLES, m[1] ?? '')), `a doc names examples/${m[1] ?? ''}, which does not exist`);
});
