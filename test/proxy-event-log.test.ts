/**
 * The operator's event log: one JSON line (the access log's format plus `level` and `event`) for
 * each event an operator may act on, proved with real backends and a real `lifeline proxy`:
 *
 * - a backend killed: endpoint_unhealthy (warn) with the probe's errno (ECONNREFUSED), then
 *   cluster_no_healthy_endpoint (error); restarted: endpoint_healthy and cluster_healthy_endpoint;
 * - a backend answering 500: endpoint_ejected (warn, cause 5xx, ejection time) and, after it,
 *   endpoint_returned;
 * - SIGHUP with a good file: reload_succeeded; with a bad one: reload_failed naming the problem;
 * - backend_idle_learned / backend_idle_forgotten (the pool will call them), and the level filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { EventLog } from '../src/proxy/log/index.js';
import { startRawBackend } from './helpers/proxy-backends.js';
import { request, scratchDir, spawnProxy, startProxy, waitUntil, writeConfig } from './helpers/proxy-harness.js';

interface Line {
  time: string;
  level: string;
  event: string;
  pid: number;
  [field: string]: unknown;
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

async function waitForEvent(file: string, event: string, withinMs: number, match: (l: Line) => boolean = () => true): Promise<Line> {
  let found: Line | undefined;
  await waitUntil(() => {
    found = readLines(file).find((l) => l.event === event && match(l));
    return found !== undefined;
  }, withinMs, 20);
  assert.ok(found !== undefined, `no ${event} line within ${withinMs} ms; log:\n${existsSync(file) ? readFileSync(file, 'utf8') : '(none)'}`);
  return found;
}

test('EventLog: every method writes one line with time, level, event, fields and pid; lower levels are dropped', async () => {
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (s: string) => (text += s));
  const log = new EventLog({ kind: 'stream', stream: out }, { level: 'info' });
  log.idleLearned('web', '10.0.0.1:80', 4_870);
  log.idleForgotten('web', '10.0.0.1:80', 4_870);
  log.log('debug', 'noise');
  log.endpointEjected('web', '10.0.0.1:80', '5xx', 30_000, 1);
  log.reloadFailed('/etc/p.yaml', Object.assign(new Error('bad'), { code: 'ERR_CONFIG' }));
  log.close();
  await new Promise((resolve) => setImmediate(resolve));
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Line);
  assert.deepEqual(lines.map((l) => `${l.level} ${l.event}`), ['info backend_idle_learned', 'info backend_idle_forgotten', 'warn endpoint_ejected', 'error reload_failed']);
  assert.deepEqual({ ...lines[0], time: undefined, pid: undefined }, { time: undefined, level: 'info', event: 'backend_idle_learned', cluster: 'web', endpoint: '10.0.0.1:80', idleMs: 4_870, pid: undefined });
  assert.equal(lines[1]?.['previousMs'], 4_870);
  assert.deepEqual([lines[2]?.['cause'], lines[2]?.['ejectionMs'], lines[2]?.['ejections']], ['5xx', 30_000, 1]);
  assert.deepEqual([lines[3]?.['code'], lines[3]?.['error'], lines[3]?.['file']], ['ERR_CONFIG', 'bad', '/etc/p.yaml']);
  for (const l of lines) {
    assert.equal(l.pid, process.pid);
    assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 60_000, l.time);
  }
  const quiet = new EventLog({ kind: 'stream', stream: out }, { level: 'error' });
  quiet.endpointHealthy('web', 'x');
  quiet.clusterNoHealthyEndpoint('web', 1);
  quiet.close();
  await new Promise((resolve) => setImmediate(resolve));
  const after = text.trim().split('\n').slice(lines.length).map((l) => JSON.parse(l) as Line);
  assert.deepEqual(after.map((l) => `${l.level} ${l.event}`), ['error cluster_no_healthy_endpoint'], 'level error drops info');
  assert.throws(() => new EventLog({ kind: 'off' }, { level: 'loud' as 'info' }), /EventLog\.level must be one of debug, info, warn, error/);
});

test('a killed backend: endpoint_unhealthy with ECONNREFUSED and cluster_no_healthy_endpoint; restarted: endpoint_healthy and cluster_healthy_endpoint', async (t) => {
  const scratch = scratchDir('events');
  t.after(() => scratch.remove());
  const file = join(scratch.dir, 'events.log');
  const backend = await startRawBackend({ name: 'a' });
  t.after(() => backend.close());
  const proxy = await startProxy(`listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    endpoints:
      - address: 127.0.0.1:${backend.port}
    healthCheck:
      path: /healthz
      intervalMs: 100
      timeoutMs: 80
      fall: 2
      rise: 1
accessLog:
  target: "off"
eventLog:
  target: ${file}
`);
  t.after(() => proxy.close());
  assert.equal((await request(proxy.port())).status, 200);
  await backend.kill();
  const down = await waitForEvent(file, 'endpoint_unhealthy', 2_000);
  assert.equal(down.level, 'warn');
  assert.equal(down['cluster'], 'app');
  assert.equal(down['endpoint'], `127.0.0.1:${backend.port}`);
  assert.equal(down['failure'], 'error');
  assert.equal(down['errno'], 'ECONNREFUSED');
  const none = await waitForEvent(file, 'cluster_no_healthy_endpoint', 500);
  assert.deepEqual([none.level, none['cluster'], none['endpoints']], ['error', 'app', 1]);

  await backend.restart();
  const up = await waitForEvent(file, 'endpoint_healthy', 2_000);
  assert.deepEqual([up.level, up['cluster'], up['endpoint']], ['info', 'app', `127.0.0.1:${backend.port}`]);
  const back = await waitForEvent(file, 'cluster_healthy_endpoint', 500);
  assert.deepEqual([back.level, back['available'], back['endpoints']], ['info', 1, 1]);
  // One line per transition, in order.
  const events = readLines(file).map((l) => l.event);
  assert.deepEqual(events, ['endpoint_unhealthy', 'cluster_no_healthy_endpoint', 'endpoint_healthy', 'cluster_healthy_endpoint']);
});

test('a backend answering 500: endpoint_ejected with its cause and time, then endpoint_returned', async (t) => {
  const scratch = scratchDir('events');
  t.after(() => scratch.remove());
  const file = join(scratch.dir, 'events.log');
  const failing = http.createServer((_req, res) => res.writeHead(500, { 'content-length': '0' }).end());
  failing.listen(0, '127.0.0.1');
  await once(failing, 'listening');
  t.after(() => {
    failing.closeAllConnections();
    failing.close();
  });
  const good = await startRawBackend({ name: 'good' });
  t.after(() => good.close());
  const failPort = (failing.address() as { port: number }).port;
  const proxy = await startProxy(`listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    balancer: round-robin
    endpoints:
      - address: 127.0.0.1:${failPort}
      - address: 127.0.0.1:${good.port}
    outlierDetection:
      consecutive5xx: 2
      baseEjectionMs: 300
      maxEjectionPercent: 50
accessLog:
  target: "off"
eventLog:
  target: ${file}
`);
  t.after(() => proxy.close());
  for (let i = 0; i < 6; i++) await request(proxy.port(), { path: `/r${i}` });
  const ejected = await waitForEvent(file, 'endpoint_ejected', 1_000);
  assert.deepEqual([ejected.level, ejected['cluster'], ejected['endpoint'], ejected['cause'], ejected['ejectionMs'], ejected['ejections']], ['warn', 'app', `127.0.0.1:${failPort}`, '5xx', 300, 1]);
  const returned = await waitForEvent(file, 'endpoint_returned', 2_000);
  assert.deepEqual([returned.level, returned['endpoint']], ['info', `127.0.0.1:${failPort}`]);
  assert.ok(Date.parse(returned.time) - Date.parse(ejected.time) >= 250, `returned ${returned.time} after ejected ${ejected.time}`);
  // The other endpoint stayed in: no cluster-wide line.
  assert.ok(!readLines(file).some((l) => l.event === 'cluster_no_healthy_endpoint'));
});

test('lifeline proxy on SIGHUP: reload_succeeded, and reload_failed naming the problem when the file is bad', async (t) => {
  const scratch = scratchDir('events');
  t.after(() => scratch.remove());
  const backend = await startRawBackend({ name: 'a' });
  t.after(() => backend.close());
  const good = `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    endpoints:
      - address: 127.0.0.1:${backend.port}
accessLog:
  target: "off"
`;
  const file = writeConfig(scratch.dir, 'proxy.yaml', good);
  const child = await spawnProxy(file);
  t.after(() => child.kill());
  const eventLines = (): Line[] =>
    child
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);

  let from = child.stderr().length;
  // Served once first: a SIGHUP sent the instant "listening" appears sometimes kills the process
  // (about 1 in 12 runs here, before this branch too): a start-up window not yet explained.
  assert.equal((await request(child.port)).status, 200);
  child.child.kill('SIGHUP');
  await child.waitFor('"event":"reload_succeeded"', 5_000, from);
  const ok = eventLines().find((l) => l.event === 'reload_succeeded');
  assert.deepEqual([ok?.level, ok?.['file'], ok?.pid], ['info', file, child.pid]);

  writeConfig(scratch.dir, 'proxy.yaml', good.replace('idleTimeoutMs', 'x').replace('    endpoints:', '    endpointz:'));
  from = child.stderr().length;
  child.child.kill('SIGHUP');
  await child.waitFor('"event":"reload_failed"', 5_000, from);
  const failed = eventLines().find((l) => l.event === 'reload_failed');
  assert.equal(failed?.level, 'error');
  assert.equal(failed?.['file'], file);
  assert.match(String(failed?.['error']), /endpointz/);
  // Still serving on the old config.
  assert.equal((await request(child.port)).status, 200);
});
