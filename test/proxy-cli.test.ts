/**
 * `lifeline proxy` as a process: SIGTERM drain, SIGHUP reload, exit codes.
 *
 * - SIGTERM with requests in flight: every one completes, the process exits 0.
 * - SIGHUP with a changed config file while a client runs: 0 failed requests, and requests
 *   after the reload go where the new file routes them; a bad file on SIGHUP keeps the old one.
 * - Bad configurations, twelve kinds, each through `--check` and through a real start: a non-zero
 *   exit and their own message naming the file, the line and the key path.
 * - A listener port already in use: a clear message naming the address, a non-zero exit, and
 *   nothing left bound (checked in process, where the other sockets would otherwise linger).
 * - `--check` on examples/demo.yaml prints ok and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifelineError } from '../src/core/errors.js';
import { startRawBackend } from './helpers/proxy-backends.js';
import type { RawBackend } from './helpers/proxy-backends.js';
import { attempt, LIFELINE, ROOT, runLifeline, scratchDir, sleep, spawnProxy, startProxy, waitUntil, writeConfig } from './helpers/proxy-harness.js';
import type { Outcome } from './helpers/proxy-harness.js';
import { makeTestCert } from './helpers/tls-certs.js';

const execFileAsync = promisify(execFile);

function routeYaml(cluster: string, backends: Record<string, RawBackend>): string {
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: ${cluster}
clusters:
${Object.entries(backends)
  .map(([name, b]) => `  ${name}:\n    endpoints:\n      - address: 127.0.0.1:${b.port}\n`)
  .join('')}admin:
  address: 127.0.0.1:0
accessLog:
  target: "off"
`;
}

test('Proof 5: SIGTERM with 30 requests in flight: all complete, the process exits 0', { timeout: 30_000 }, async (t) => {
  const IN_FLIGHT = 30;
  const backend = await startRawBackend({ name: 'slow', responseDelayMs: 700 });
  const scratch = scratchDir('sigterm');
  const proxy = await spawnProxy(writeConfig(scratch.dir, 'proxy.yaml', routeYaml('app', { app: backend })));
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  t.after(async () => {
    agent.destroy();
    await proxy.kill();
    await backend.close();
    scratch.remove();
  });
  const pending = Array.from({ length: IN_FLIGHT }, (_, i) =>
    attempt(proxy.port, i % 3 === 0 ? { method: 'POST', path: `/t/${i}`, body: `id=t${i}`, agent } : { path: `/t/${i}`, agent }),
  );
  assert.ok((await waitUntil(() => backend.requests >= IN_FLIGHT, 5_000)) !== undefined, 'all requests reached the backend');
  const signalled = performance.now();
  proxy.child.kill('SIGTERM');
  const outcomes = await Promise.all(pending);
  const code = await Promise.race([proxy.exited, sleep(10_000).then(() => 'still running after 10 s')]);
  const exitMs = performance.now() - signalled;
  const ok = outcomes.filter((o) => o.ok && o.reply.status === 200).length;
  t.diagnostic(`${ok}/${IN_FLIGHT} completed with 200; exit ${String(code)} ${exitMs.toFixed(0)} ms after SIGTERM; stderr: ${proxy.stderr().trim().split('\n').slice(-2).join(' | ')}`);
  for (const o of outcomes.filter((x) => !x.ok || x.reply.status !== 200).slice(0, 5)) t.diagnostic(`  ${o.ok ? o.reply.status : o.error}`);
  assert.equal(ok, IN_FLIGHT);
  assert.equal(code, 0);
  assert.match(proxy.stderr(), /drained \(\d+ idle closed, \d+ finished, 0 forced\)/);
});

test('Proof 5: SIGHUP with a changed config under load: 0 failed requests, new requests follow the new routes', { timeout: 30_000 }, async (t) => {
  const blue = await startRawBackend({ name: 'blue', responseDelayMs: 3 });
  const green = await startRawBackend({ name: 'green', responseDelayMs: 3 });
  const scratch = scratchDir('sighup');
  const file = writeConfig(scratch.dir, 'proxy.yaml', routeYaml('blue', { blue, green }));
  const proxy = await spawnProxy(file);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(async () => {
    agent.destroy();
    await proxy.kill();
    await blue.close();
    await green.close();
    scratch.remove();
  });
  let reloadedAt = Number.POSITIVE_INFINITY;
  let running = true;
  let total = 0;
  let afterReload = 0;
  const failures: string[] = [];
  const stale: string[] = [];
  const record = (o: Outcome, startedAt: number, id: string): void => {
    if (!o.ok) failures.push(`${id}: ${o.error}`);
    else if (o.reply.status !== 200) failures.push(`${id}: ${o.reply.status} ${String(o.reply.headers['x-lifeline-error'])}`);
    else if (startedAt > reloadedAt) {
      afterReload += 1;
      if (o.reply.headers['x-backend'] !== 'green') stale.push(`${id} went to ${String(o.reply.headers['x-backend'])}`);
    }
  };
  const lanes = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = 0; running && i < 100_000; i++) {
      const startedAt = performance.now();
      total += 1;
      const post = i % 2 === 1;
      record(await attempt(proxy.port, post ? { method: 'POST', path: `/h/${lane}/${i}`, body: `id=h${lane}-${i}`, agent } : { path: `/h/${lane}/${i}`, agent }), startedAt, `${lane}-${i}`);
    }
  });
  await sleep(600);
  // A bad file first: the proxy says so and keeps serving with the running config.
  writeFileSync(file, routeYaml('blue', { blue, green }).replace('cluster: blue', 'cluster: purple'));
  let mark = proxy.stderr().length;
  proxy.child.kill('SIGHUP');
  await proxy.waitFor('reload failed, keeping the running config', 5_000, mark);
  const badReload = proxy.stderr().slice(mark).trim();
  await sleep(300);
  writeFileSync(file, routeYaml('green', { blue, green }));
  mark = proxy.stderr().length;
  proxy.child.kill('SIGHUP');
  await proxy.waitFor('config reloaded', 5_000, mark);
  reloadedAt = performance.now();
  await sleep(700);
  running = false;
  await Promise.all(lanes);
  t.diagnostic(`bad file on SIGHUP: ${badReload.split('\n').join(' | ')}`);
  t.diagnostic(`${total} requests (half POST), ${failures.length} failed; ${afterReload} started after "config reloaded", ${stale.length} of them went to the old cluster; blue ${blue.requests}, green ${green.requests}`);
  for (const f of [...failures, ...stale].slice(0, 5)) t.diagnostic(`  ${f}`);
  assert.match(badReload, /proxy\.yaml:5:\d+: listeners\[0\]\.routes\[0\]\.cluster: .*"purple"/);
  assert.deepEqual(failures, []);
  assert.ok(afterReload > 0);
  assert.deepEqual(stale, []);
  assert.equal(proxy.child.exitCode, null, 'still running');
});

// ---- Proof 7: bad configuration ---------------------------------------------------------------

interface BadConfig {
  kind: string;
  text: string;
  /** `line:` then the key path (or the start of the message) that the message must hold. */
  expect: RegExp;
}

const GOOD = `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    endpoints:
      - address: 127.0.0.1:9
accessLog:
  target: "off"
`;

function edit(from: string, to: string): string {
  assert.ok(GOOD.includes(from), from);
  return GOOD.replace(from, to);
}

function badConfigs(dir: string): BadConfig[] {
  const { key, cert } = makeTestCert({ keyType: 'ec' });
  const certFile = join(dir, 'cert.pem');
  writeFileSync(certFile, cert);
  writeFileSync(join(dir, 'key.pem'), key);
  mkdirSync(join(dir, 'a-directory.pem'));
  const https = (keyFile: string): string => edit('    routes:\n', `    protocol: https\n    tls:\n      certFile: ${certFile}\n      keyFile: ${keyFile}\n    routes:\n`);
  return [
    { kind: 'unknown key', text: edit('    routes:\n', '    idleTimeout: 5\n    routes:\n'), expect: /:4:\d+: listeners\[0\]\.idleTimeout: unknown key "idleTimeout"/ },
    { kind: 'wrong type', text: edit('      - address: 127.0.0.1:9\n', '      - address: 127.0.0.1:9\n    timeouts:\n      connectTimeoutMs: "5s"\n'), expect: /:11:\d+: clusters\.app\.timeouts\.connectTimeoutMs: expected an integer of milliseconds.*found "5s"/ },
    { kind: 'negative timeout', text: `${GOOD}client:\n  idleTimeoutMs: -5\n`, expect: /:13:\d+: client\.idleTimeoutMs: expected an integer of milliseconds >= 0.*found -5/ },
    { kind: 'unknown cluster in a route', text: edit('      - cluster: app\n', '      - cluster: apq\n'), expect: /:5:\d+: listeners\[0\]\.routes\[0\]\.cluster: .*found "apq"; did you mean "app"\?/ },
    { kind: 'port out of range', text: edit('address: 127.0.0.1:0', 'address: 127.0.0.1:70000'), expect: /:3:\d+: listeners\[0\]\.address: expected a "host:port" address.*70000/ },
    {
      kind: 'duplicate listener names',
      text: edit('clusters:\n', '  - name: main\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\nclusters:\n'),
      expect: /:6:\d+: listeners\[1\]\.name: expected a name no other listener has, found "main"/,
    },
    { kind: 'https without tls', text: edit('    routes:\n', '    protocol: https\n    routes:\n'), expect: /:4:\d+: listeners\[0\]\.protocol: expected a "tls" block/ },
    { kind: 'unreadable TLS key file (missing)', text: https(join(dir, 'missing-key.pem')), expect: /:7:\d+: listeners\[0\]\.tls\.keyFile: .*unreadable file .*missing-key\.pem \(ENOENT/ },
    { kind: 'unreadable TLS key file (a directory)', text: https(join(dir, 'a-directory.pem')), expect: /:7:\d+: listeners\[0\]\.tls\.keyFile: .*unreadable file .*a-directory\.pem \(EISDIR/ },
    { kind: 'invalid YAML', text: edit('    address: 127.0.0.1:0\n', '   address: 127.0.0.1:0\n'), expect: /:3:\d+: invalid YAML or JSON/ },
    { kind: 'empty file', text: '', expect: /:1:1: expected a mapping with at least "listeners" and "clusters", found an empty file/ },
    { kind: 'unknown balancer', text: edit('  app:\n', '  app:\n    balancer: fastest\n'), expect: /:8:\d+: clusters\.app\.balancer: expected one of "round-robin", "least-connections", "p2c-ewma", "ring-hash", "maglev", found "fastest"/ },
  ];
}

test('Proof 7: twelve kinds of bad config, each through --check and a real start: non-zero exit, file:line and key path', { timeout: 60_000 }, async (t) => {
  const scratch = scratchDir('badcfg');
  t.after(() => scratch.remove());
  const cases = badConfigs(scratch.dir);
  const runs = cases.flatMap((c, i) => {
    const file = writeConfig(scratch.dir, `bad-${i}.yaml`, c.text);
    return [
      { c, file, mode: 'check', args: ['proxy', '--check', '--config', file] },
      { c, file, mode: 'start', args: ['proxy', '--config', file] },
    ];
  });
  // Four processes at a time: each is a Node start-up (~0.3 s).
  const results: { c: BadConfig; file: string; mode: string; code: number | string; out: string; err: string }[] = [];
  for (let i = 0; i < runs.length; i += 4) {
    const batch = runs.slice(i, i + 4);
    const done = await Promise.all(batch.map(async (r) => ({ ...r, ...(await runLifeline(r.args, 10_000)) })));
    for (const d of done) results.push({ c: d.c, file: d.file, mode: d.mode, code: d.code, out: d.stdout, err: d.stderr });
  }
  const messages = new Map<string, string>();
  for (const r of results) {
    const first = r.err.trim().split('\n')[0] ?? '';
    t.diagnostic(`${r.c.kind} (${r.mode}): exit ${String(r.code)}: ${first.replace(scratch.dir, '<dir>')}`);
  }
  for (const r of results) {
    await t.test(`${r.c.kind} (${r.mode})`, () => {
      assert.notEqual(r.code, 0, 'non-zero exit');
      assert.equal(typeof r.code, 'number', `exited by itself (${String(r.code)})`);
      assert.ok(r.err.includes(`${r.file}:`), `the message names the file:\n${r.err}`);
      const escaped = r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(r.err, new RegExp(escaped + r.c.expect.source), 'file:line and key path');
      assert.doesNotMatch(r.out, /ok/, 'nothing printed as ok');
      assert.doesNotMatch(r.err, /listening on/, 'the proxy did not start');
      if (r.mode === 'check') messages.set(r.c.kind, r.err);
    });
  }
  await t.test('each kind has its own message', () => {
    const distinct = new Set([...messages.values()].map((m) => m.replace(/^[^:]*:\d+:\d+: /, '')));
    assert.equal(distinct.size, cases.length);
  });
});

test('Proof 7: a listener port already in use: a clear message naming the address, non-zero exit, nothing left bound', { timeout: 30_000 }, async (t) => {
  const blocker = net.createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const busy = (blocker.address() as net.AddressInfo).port;
  const scratch = scratchDir('inuse');
  t.after(async () => {
    blocker.close();
    await once(blocker, 'close');
    scratch.remove();
  });
  // Free ports for the other sockets the proxy opens before it reaches the busy one.
  const free = async (): Promise<number> => {
    const s = net.createServer().listen(0, '127.0.0.1');
    await once(s, 'listening');
    const port = (s.address() as net.AddressInfo).port;
    s.close();
    await once(s, 'close');
    return port;
  };
  const [first, demo1, demo2] = [await free(), await free(), await free()];
  const yaml = `listeners:
  - name: first
    address: 127.0.0.1:${first}
    routes:
      - cluster: demo
  - name: second
    address: 127.0.0.1:${busy}
    routes:
      - cluster: demo
clusters:
  demo:
    endpoints:
      - address: 127.0.0.1:${demo1}
      - address: 127.0.0.1:${demo2}
demo:
  upstreams: ["127.0.0.1:${demo1}", "127.0.0.1:${demo2}"]
admin:
  address: 127.0.0.1:0
accessLog:
  target: "off"
`;
  const file = writeConfig(scratch.dir, 'proxy.yaml', yaml);
  const started = performance.now();
  const run = await runLifeline(['proxy', '--config', file], 10_000);
  const ms = performance.now() - started;
  t.diagnostic(`exit ${String(run.code)} after ${ms.toFixed(0)} ms: ${run.stderr.trim()}`);
  assert.notEqual(run.code, 0);
  assert.equal(typeof run.code, 'number', 'exited by itself');
  assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${busy}`), 'names the address');
  assert.match(run.stderr, /EADDRINUSE|in use/i, 'says it is in use');
  assert.doesNotMatch(run.stderr, /listening on/);

  // In process: Proxy.start rejects, and the first listener and the demo backends it had already
  // bound are released.
  const error = await startProxy(yaml, file).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.diagnostic(`Proxy.start: ${error instanceof Error ? error.message : String(error)}`);
  assert.ok(error instanceof LifelineError, String(error));
  assert.equal(error.code, 'ERR_LISTEN');
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${busy}`));
  for (const port of [first, demo1, demo2]) {
    const probe = net.createServer();
    probe.listen(port, '127.0.0.1');
    const [outcome] = await Promise.race([once(probe, 'listening').then(() => ['free']), once(probe, 'error').then(([e]) => [(e as Error & { code?: string }).code ?? 'error'])]);
    if (probe.listening) {
      probe.close();
      await once(probe, 'close');
    }
    assert.equal(outcome, 'free', `127.0.0.1:${port} is still bound after the failed start`);
  }
});

test('--check examples/demo.yaml prints ok and exits 0', { timeout: 20_000 }, async () => {
  const run = await runLifeline(['proxy', '--check', '--config', join(ROOT, 'examples', 'demo.yaml')]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /demo\.yaml: ok\n$/);
  assert.equal(run.stderr, '');
});

test('the listening banner brackets IPv6 hosts, so the URLs it prints work in curl', { timeout: 30_000 }, async (t) => {
  const backend = await startRawBackend({ name: 'v6' });
  const scratch = scratchDir('banner');
  const file = writeConfig(scratch.dir, 'proxy.yaml', routeYaml('app', { app: backend }).replace('address: 127.0.0.1:0\n    routes', 'address: "[::1]:0"\n    routes').replace('admin:\n  address: 127.0.0.1:0', 'admin:\n  address: "[::1]:0"'));
  const child = spawn(process.execPath, [LIFELINE, 'proxy', '--config', file], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
    await backend.close();
    scratch.remove();
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const deadline = Date.now() + 15_000;
  while (!/listening on .*\n/.test(stderr) && child.exitCode === null && Date.now() < deadline) await sleep(20);
  const m = /listening on http:\/\/\[::1\]:(\d+); admin on http:\/\/\[::1\]:(\d+)/.exec(stderr);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined, `banner: ${stderr}`);
  // Asynchronously: the backend answers from this process.
  const curl = await execFileAsync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://[::1]:${m[1]}/`], { encoding: 'utf8' });
  assert.equal(curl.stdout, '200', `curl on the printed URL: ${curl.stderr}`);
});
