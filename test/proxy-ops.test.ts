/**
 * The proxy's operations, in process and with real sockets: health, drain and reload in
 * process, and large bodies streamed through a child process in bounded memory.
 *
 * - Health: a killed backend leaves rotation within `intervalMs x fall`, GETs keep succeeding on
 *   the other backend meanwhile, and the backend restarted on its port returns within
 *   `intervalMs x rise`; read from the admin `/stats`.
 * - drain() with ~50 requests in flight: every one completes with 200, none is reset.
 * - reload() under load swaps the routes to another cluster without a failed request.
 * - A 200 MB upload and a 200 MB download streamed through a `lifeline proxy` child process,
 *   hashed on both ends, with the child's resident memory growing by less than 64 MB.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { parseConfig } from '../src/proxy/config/index.js';
import { startRawBackend } from './helpers/proxy-backends.js';
import type { RawBackend } from './helpers/proxy-backends.js';
import { adminStats, attempt, memoryOf, request, scratchDir, sleep, spawnProxy, startProxy, waitUntil, writeConfig } from './helpers/proxy-harness.js';
import type { Outcome, PoolView } from './helpers/proxy-harness.js';

// ---- Proof 4: health ---------------------------------------------------------------------------

const INTERVAL_MS = 200;
const FALL = 2;
const RISE = 2;
/**
 * Slack on `intervalMs x fall` and `intervalMs x rise`: /stats is polled every 20 ms; a check may
 * start up to one timer tick late while this process also runs the client load, the backends and
 * the proxy (event-loop lag, measured below 50 ms here); the probe of a dead backend fails when
 * its connect is refused, about 1 ms. 200 ms covers all of that with room for a loaded CI box,
 * and is still less than one more check interval plus the bound, so a proxy needing an extra
 * failed check would be caught.
 */
const SLACK_MS = 200;

function healthYaml(backends: readonly RawBackend[], outlier: string): string {
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
      timeoutMs: 150
      fall: ${FALL}
      rise: ${RISE}
${outlier}admin:
  address: 127.0.0.1:0
accessLog:
  target: "off"
`;
}

/** Keep `lanes` clients sending GETs until `stop()`; count failures. */
function load(port: number, lanes: number, agent: http.Agent, thinkMs: number): { stop(): Promise<void>; readonly sent: number; readonly failures: string[]; readonly byBackend: Map<string, number> } {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const byBackend = new Map<string, number>();
  const done = Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; running && i < 100_000; i++) {
        sent += 1;
        const outcome = await attempt(port, { path: `/h/${lane}/${i}`, agent, headers: { 'x-request-id': `${lane}-${i}` } });
        if (!outcome.ok) failures.push(`${lane}-${i}: ${outcome.error}`);
        else if (outcome.reply.status !== 200) failures.push(`${lane}-${i}: ${outcome.reply.status} ${String(outcome.reply.headers['x-lifeline-error'])}`);
        else {
          const b = String(outcome.reply.headers['x-backend']);
          byBackend.set(b, (byBackend.get(b) ?? 0) + 1);
        }
        if (thinkMs > 0) await sleep(thinkMs);
      }
    }),
  );
  return {
    async stop() {
      running = false;
      await done;
    },
    get sent() {
      return sent;
    },
    failures,
    byBackend,
  };
}

async function healthRun(t: TestContext, outlier: string): Promise<{ downMs: number | undefined; upMs: number | undefined; failures: string[] }> {
  // Just before the kill, b holds its answers for 150 ms, so that requests are in flight on
  // (reused) connections to it when it dies, as in a real crash under load.
  let holdUntil = 0;
  const a = await startRawBackend({ name: 'a', responseDelayMs: 2 });
  const b = await startRawBackend({ name: 'b', responseDelayMs: () => Math.max(2, holdUntil - performance.now()) });
  const scratch = scratchDir('health');
  const proxy = await startProxy(healthYaml([a, b], outlier), join(scratch.dir, 'proxy.yaml'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(async () => {
    agent.destroy();
    await proxy.close();
    await a.close();
    await b.close();
    scratch.remove();
  });
  const adminPort = proxy.adminPort() as number;
  const poolOf = async (key: string): Promise<PoolView | undefined> => (await adminStats(adminPort)).pools['app']?.find((p) => p.endpoint === key);
  const bKey = `127.0.0.1:${b.port}`;

  const traffic = load(proxy.port(), 6, agent, 2);
  // Warm-up with one hold too, so the pool has a connection to b for every lane: the requests
  // caught by the kill are then all on reused connections, the case the proxy must retry.
  await sleep(200);
  holdUntil = performance.now() + 150;
  await sleep(500);
  assert.equal((await poolOf(bKey))?.available, true, 'b is in rotation before the kill');
  const beforeKill = traffic.sent;
  const beforeHold = b.requests;

  holdUntil = performance.now() + 10_000;
  await sleep(150);
  const inFlightAtKill = b.requests;
  await b.kill();
  holdUntil = 0;
  const downMs = await waitUntil(async () => (await poolOf(bKey))?.available === false, 3_000, 20);
  const afterDown = await poolOf(bKey);
  // Traffic on the survivor for a while: every GET must succeed.
  await sleep(800);
  const failuresWhileDown = [...traffic.failures];
  const duringDown = traffic.sent - beforeKill;

  await b.restart();
  const upMs = await waitUntil(async () => (await poolOf(bKey))?.available === true, 2_000, 20);
  const afterUp = await poolOf(bKey);
  const servedAfterRestart = b.requests;
  await sleep(300);
  await traffic.stop();
  const stats = await adminStats(adminPort);
  const ep = stats.upstream['app']?.endpoints[bKey];

  t.diagnostic(`killed b (holding ${inFlightAtKill - beforeHold} requests): out of rotation after ${downMs?.toFixed(0) ?? 'never'} ms (bound ${INTERVAL_MS * FALL} + ${SLACK_MS}): healthy=${String(afterDown?.healthy)} ejected=${String(afterDown?.ejected)}`);
  t.diagnostic(`${duringDown} GETs from the kill to the restart, ${failuresWhileDown.length} failed; ${traffic.sent} GETs in all, ${traffic.failures.length} failed; by backend ${JSON.stringify([...traffic.byBackend])}`);
  t.diagnostic(`restarted b: back after ${upMs?.toFixed(0) ?? 'never (2 s)'} ms (bound ${INTERVAL_MS * RISE} + ${SLACK_MS}): healthy=${String(afterUp?.healthy)} ejected=${String(afterUp?.ejected)}; b served ${b.requests - servedAfterRestart} requests in the 300 ms after`);
  t.diagnostic(`proxy: retries ${stats.upstream['app']?.rqRetry ?? '?'} (succeeded ${stats.upstream['app']?.rqRetrySuccess ?? '?'}), b: connect failures ${ep?.cxConnectFail ?? '?'}, ejections ${ep?.ejections ?? '?'}, destroyed with a request on them ${ep?.cxDestroyRemoteWithActiveRq ?? '?'}; b learnedBackendIdleMs ${String(afterUp?.learnedBackendIdleMs)}`);
  for (const f of traffic.failures.slice(0, 5)) t.diagnostic(`  ${f}`);

  return { downMs, upMs, failures: [...traffic.failures] };
}


test('Proof 4: health checks alone (outlier ejection off): kill, serve from the other, restart', { timeout: 20_000 }, async (t) => {
  const r = await healthRun(t, '    outlierDetection:\n      consecutiveConnectFailures: 0\n      consecutive5xx: 0\n');
  await t.test(`out of rotation within intervalMs x fall + ${SLACK_MS} ms`, () => {
    assert.ok(r.downMs !== undefined && r.downMs <= INTERVAL_MS * FALL + SLACK_MS, `b out of rotation after ${String(r.downMs)} ms`);
  });
  await t.test('no client-visible GET error while one backend is dead', () => {
    assert.deepEqual(r.failures, []);
  });
  await t.test(`back in rotation within intervalMs x rise + ${SLACK_MS} ms`, () => {
    assert.ok(r.upMs !== undefined && r.upMs <= INTERVAL_MS * RISE + SLACK_MS, `b back in rotation after ${String(r.upMs)} ms`);
  });
});

test('Proof 4 with default outlier detection: kill, serve from the other, restart', { timeout: 20_000 }, async (t) => {
  const r = await healthRun(t, '');
  await t.test(`out of rotation within intervalMs x fall + ${SLACK_MS} ms`, () => {
    assert.ok(r.downMs !== undefined && r.downMs <= INTERVAL_MS * FALL + SLACK_MS, `b out of rotation after ${String(r.downMs)} ms`);
  });
  await t.test('no client-visible GET error while one backend is dead', () => {
    assert.deepEqual(r.failures, []);
  });
  await t.test(
    `a restarted backend that passes its checks is back within intervalMs x rise + ${SLACK_MS} ms`,
    () => {
      assert.ok(r.upMs !== undefined && r.upMs <= INTERVAL_MS * RISE + SLACK_MS, `b back in rotation after ${String(r.upMs)} ms`);
    },
  );
});

test(
  'a backend restart does not teach the pool a short idle timeout: connections to the restarted backend are reused',
  { timeout: 20_000 },
  async (t) => {
    const backend = await startRawBackend({ name: 'r' });
    const scratch = scratchDir('relearn');
    const proxy = await startProxy(oneClusterYaml(backend), join(scratch.dir, 'proxy.yaml'));
    t.after(async () => {
      await proxy.close();
      await backend.close();
      scratch.remove();
    });
    const ids = async (n: number): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await request(proxy.port(), { path: `/x${i}` });
        assert.equal(r.status, 200);
        out.push(String(r.headers['x-connection-id']));
        await sleep(300);
      }
      return out;
    };
    const before = await ids(4);
    await backend.kill(); // its idle pooled connection, idle ~300 ms, is closed
    await sleep(50);
    await backend.restart();
    const after = await ids(4);
    const pool = (await adminStats(proxy.adminPort() as number)).pools['app']?.[0];
    t.diagnostic(`connection ids before the restart ${before.join(',')}, after ${after.join(',')}; learnedBackendIdleMs ${String(pool?.learnedBackendIdleMs)}`);
    assert.equal(new Set(before).size, 1, 'one kept-alive connection before the restart');
    assert.equal(new Set(after).size, 1, 'one kept-alive connection after the restart');
  },
);

// ---- Proof 5, in process: drain ----------------------------------------------------------------

function oneClusterYaml(backend: RawBackend, extra = ''): string {
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    endpoints:
      - address: 127.0.0.1:${backend.port}
admin:
  address: 127.0.0.1:0
accessLog:
  target: "off"
${extra}`;
}

test('Proof 5: drain() with 50 requests in flight: all complete with 200, none reset', { timeout: 20_000 }, async (t) => {
  const IN_FLIGHT = 50;
  const backend = await startRawBackend({ name: 'slow', responseDelayMs: 600 });
  const scratch = scratchDir('drain');
  const proxy = await startProxy(oneClusterYaml(backend), join(scratch.dir, 'proxy.yaml'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  t.after(async () => {
    agent.destroy();
    await proxy.close();
    await backend.close();
    scratch.remove();
  });
  const port = proxy.port();
  const pending = Array.from({ length: IN_FLIGHT }, (_, i) =>
    attempt(port, i % 2 === 0 ? { path: `/d/${i}`, agent } : { method: 'POST', path: `/d/${i}`, body: `id=d${i}`, agent }),
  );
  assert.ok((await waitUntil(() => backend.requests >= IN_FLIGHT, 5_000)) !== undefined, 'all requests reached the backend');
  const drainStarted = performance.now();
  const drained = proxy.drain({ timeoutMs: 5_000 });
  const refused = await attempt(port, { path: '/late' });
  const outcomes = await Promise.all(pending);
  const result = await drained;
  const drainMs = performance.now() - drainStarted;
  const ok = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok && o.reply.status === 200);
  const closing = ok.filter((o) => o.reply.headers.connection === 'close').length;
  t.diagnostic(`drain resolved after ${drainMs.toFixed(0)} ms with ${JSON.stringify(result)}; ${ok.length}/${IN_FLIGHT} got 200 (${closing} with Connection: close); a request after drain started: ${refused.ok ? refused.reply.status : refused.error}`);
  for (const o of outcomes.filter((x) => !x.ok || x.reply.status !== 200).slice(0, 5)) t.diagnostic(`  ${o.ok ? o.reply.status : o.error}`);
  assert.equal(ok.length, IN_FLIGHT);
  assert.equal(closing, IN_FLIGHT, 'each response during a drain closes its connection');
  assert.equal(result.forced, 0);
  assert.equal(result.closedAfterResponse, IN_FLIGHT);
  assert.ok(drainMs < 5_000, 'drain resolved before its timeout');
  assert.equal(refused.ok, false, 'the listener stops accepting');
});

test(
  'drain() with a client connection that has sent nothing yet resolves when the busy ones finish, not at the timeout',
  { timeout: 20_000 },
  async (t) => {
    const backend = await startRawBackend({ name: 'slow', responseDelayMs: 300 });
    const scratch = scratchDir('drain2');
    const proxy = await startProxy(oneClusterYaml(backend), join(scratch.dir, 'proxy.yaml'));
    const silent = net.connect(proxy.port(), '127.0.0.1');
    silent.on('error', () => undefined);
    t.after(async () => {
      silent.destroy();
      await proxy.close();
      await backend.close();
      scratch.remove();
    });
    await once(silent, 'connect');
    const inFlight = attempt(proxy.port(), { path: '/slow' });
    await waitUntil(() => backend.requests >= 1, 2_000);
    const started = performance.now();
    const result = await proxy.drain({ timeoutMs: 2_500 });
    const ms = performance.now() - started;
    const outcome = await inFlight;
    t.diagnostic(`drain took ${ms.toFixed(0)} ms (timeout 2500) with ${JSON.stringify(result)}; in-flight request: ${outcome.ok ? outcome.reply.status : outcome.error}`);
    assert.ok(outcome.ok && outcome.reply.status === 200);
    assert.ok(ms < 1_500, `drain took ${ms.toFixed(0)} ms`);
  },
);

// ---- Proof 5, in process: reload under load ----------------------------------------------------

test('Proof 5: reload() under load swaps the routes to another cluster with 0 failed requests', { timeout: 20_000 }, async (t) => {
  const blue = await startRawBackend({ name: 'blue', responseDelayMs: 5 });
  const green = await startRawBackend({ name: 'green', responseDelayMs: 5 });
  const scratch = scratchDir('reload');
  const file = join(scratch.dir, 'proxy.yaml');
  const text = (route: string): string => `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: ${route}
clusters:
  blue:
    endpoints:
      - address: 127.0.0.1:${blue.port}
  green:
    endpoints:
      - address: 127.0.0.1:${green.port}
accessLog:
  target: "off"
`;
  const proxy = await startProxy(text('blue'), file);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(async () => {
    agent.destroy();
    await proxy.close();
    await blue.close();
    await green.close();
    scratch.remove();
  });
  const port = proxy.port();
  let reloadedAt = Number.POSITIVE_INFINITY;
  let running = true;
  const failures: string[] = [];
  const late: string[] = [];
  let total = 0;
  let afterReload = 0;
  const lanes = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = 0; running && i < 100_000; i++) {
      const startedAt = performance.now();
      total += 1;
      const post = i % 2 === 1;
      const outcome = await attempt(port, post ? { method: 'POST', path: `/r/${lane}/${i}`, body: `id=r${lane}-${i}`, agent } : { path: `/r/${lane}/${i}`, agent });
      if (!outcome.ok) failures.push(outcome.error);
      else if (outcome.reply.status !== 200) failures.push(`${outcome.reply.status} ${String(outcome.reply.headers['x-lifeline-error'])}`);
      else if (startedAt > reloadedAt) {
        afterReload += 1;
        if (outcome.reply.headers['x-backend'] !== 'green') late.push(`${lane}-${i} went to ${String(outcome.reply.headers['x-backend'])}`);
      }
    }
  });
  await sleep(700);
  const blueBefore = blue.requests;
  proxy.reload(parseConfig(text('green'), file, {}));
  reloadedAt = performance.now();
  await sleep(700);
  running = false;
  await Promise.all(lanes);
  // The retired cluster's pool closes once its last exchange is done.
  const blueClosedMs = await waitUntil(() => blue.open === 0, 3_000, 20);
  t.diagnostic(`${total} requests (half POST), ${failures.length} failed; ${afterReload} started after reload(), ${late.length} of them went to the old cluster; blue served ${blueBefore} before; blue's connections closed ${blueClosedMs === undefined ? 'never (3 s)' : `${blueClosedMs.toFixed(0)} ms after the load stopped`}`);
  for (const f of [...failures, ...late].slice(0, 5)) t.diagnostic(`  ${f}`);
  assert.deepEqual(failures, []);
  assert.ok(blueBefore > 0 && afterReload > 0);
  assert.deepEqual(late, []);
  assert.ok(blueClosedMs !== undefined, 'the retired cluster closes its upstream connections');
});

// ---- Proof 1, size: 200 MB each way through a child process ------------------------------------

const SIZE = 200 * 1024 * 1024;
const CHUNK = 64 * 1024;
const RSS_BOUND = 64 * 1024 * 1024;

/** SIZE bytes, every 64 KiB chunk different (a counter over random bytes). */
function generate(onChunk: (chunk: Buffer) => void): Readable {
  const seed = randomBytes(CHUNK);
  let sent = 0;
  let n = 0;
  return new Readable({
    read() {
      if (sent >= SIZE) {
        this.push(null);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, SIZE - sent));
      seed.copy(chunk, 0, 0, chunk.length);
      chunk.writeUInt32LE(n++, 0);
      sent += chunk.length;
      onChunk(chunk);
      this.push(chunk);
    },
  });
}

test('Proof 1 (size): 200 MB up and 200 MB down through a lifeline proxy process, RSS growth < 64 MB', { timeout: 90_000 }, async (t) => {
  let downloadSentHash = '';
  const server = http.createServer((req, res) => {
    if (req.url === '/upload') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
    } else if (req.url === '/download') {
      req.resume();
      const hash = createHash('sha256');
      res.writeHead(200, { 'content-length': String(SIZE), 'content-type': 'application/octet-stream' });
      generate((chunk) => hash.update(chunk))
        .on('end', () => (downloadSentHash = hash.digest('hex')))
        .pipe(res);
    } else {
      req.resume();
      res.end('ok');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const backendPort = (server.address() as net.AddressInfo).port;
  const scratch = scratchDir('size');
  const file = writeConfig(
    scratch.dir,
    'proxy.yaml',
    `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: big
clusters:
  big:
    endpoints:
      - address: 127.0.0.1:${backendPort}
admin:
  address: 127.0.0.1:0
accessLog:
  target: "off"
`,
  );
  const proxy = await spawnProxy(file);
  t.after(async () => {
    await proxy.kill();
    server.closeAllConnections();
    server.close();
    scratch.remove();
  });
  // Warm the code paths (parser, pool, both body kinds), then take the baseline.
  for (let i = 0; i < 20; i++) {
    assert.equal((await request(proxy.port, { path: '/warm' })).status, 200);
    assert.equal((await request(proxy.port, { method: 'POST', path: '/upload', body: randomBytes(256 * 1024) })).status, 200);
  }
  await sleep(200);
  try {
    writeFileSync(`/proc/${proxy.pid}/clear_refs`, '5'); // reset VmHWM to the current RSS
  } catch {
    // not permitted: VmHWM then includes start-up, which only makes the bound stricter
  }
  const before = memoryOf(proxy.pid);
  let peakRss = before.rss;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memoryOf(proxy.pid).rss);
    } catch {
      // the process is gone: the test fails elsewhere
    }
  }, 25);
  t.after(() => clearInterval(sampler));

  // Upload: chunked (no Content-Length), hashed as generated and by the backend.
  const upStarted = performance.now();
  const upHash = createHash('sha256');
  const upload = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/upload', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    generate((chunk) => upHash.update(chunk)).pipe(req);
  });
  const upMs = performance.now() - upStarted;
  const upExpected = upHash.digest('hex');

  // Download: Content-Length, hashed by the backend as sent and here as received.
  const downStarted = performance.now();
  const download = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, path: '/download', agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  const downMs = performance.now() - downStarted;
  clearInterval(sampler);
  const after = memoryOf(proxy.pid);
  const growth = Math.max(after.hwm, peakRss) - before.rss;
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const uploaded = JSON.parse(upload.body) as { bytes: number; sha256: string };
  t.diagnostic(`upload: ${mb(uploaded.bytes)} in ${upMs.toFixed(0)} ms (${(SIZE / 1024 / 1024 / (upMs / 1000)).toFixed(0)} MB/s), sha256 ${uploaded.sha256 === upExpected ? 'matches' : 'DIFFERS'}`);
  t.diagnostic(`download: ${mb(download.bytes)} in ${downMs.toFixed(0)} ms (${(SIZE / 1024 / 1024 / (downMs / 1000)).toFixed(0)} MB/s), sha256 ${download.sha256 === downloadSentHash ? 'matches' : 'DIFFERS'}`);
  t.diagnostic(`proxy RSS: ${mb(before.rss)} before, ${mb(after.rss)} after, peak ${mb(Math.max(after.hwm, peakRss))} (VmHWM ${mb(after.hwm)}, sampled ${mb(peakRss)}): growth ${mb(growth)} (bound ${mb(RSS_BOUND)})`);
  assert.equal(upload.status, 200);
  assert.equal(uploaded.bytes, SIZE);
  assert.equal(uploaded.sha256, upExpected);
  assert.equal(download.status, 200);
  assert.equal(download.bytes, SIZE);
  assert.equal(download.sha256, downloadSentHash);
  assert.ok(growth < RSS_BOUND, `the proxy's RSS grew by ${mb(growth)}`);
});
