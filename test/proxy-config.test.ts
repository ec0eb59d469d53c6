import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, getCluster, loadConfig, parseConfig } from '../src/proxy/config/index.js';
import type { ConfigProblem } from '../src/proxy/config/index.js';
import { makeTestCert } from './helpers/tls-certs.js';

const EXAMPLES = resolve(import.meta.dirname, '..', '..', 'examples');

const MINIMAL = `listeners:
  - name: main
    address: 127.0.0.1:8080
    routes:
      - cluster: demo
clusters:
  demo:
    endpoints:
      - address: 127.0.0.1:9001
`;

/** The ConfigError thrown by parsing `text` (fails the test if none is thrown). */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}, file = 'proxy.yaml'): { error: ConfigError; problems: readonly ConfigProblem[] } {
  try {
    parseConfig(text, file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG');
    return { error: err, problems: err.problems };
  }
  assert.fail('expected a ConfigError');
}

/** Exactly one problem, whose formatted line matches `line`. */
function oneProblem(text: string, line: RegExp, env: NodeJS.ProcessEnv = {}): ConfigProblem {
  const { error, problems } = problemsOf(text, env);
  assert.equal(problems.length, 1, error.message);
  assert.match(error.message, line);
  const [p] = problems;
  assert.ok(p);
  return p;
}

/** MINIMAL with `extra` appended (top-level keys) or a line replaced. */
const withText = (from: string, to: string): string => {
  assert.ok(MINIMAL.includes(from), from);
  return MINIMAL.replace(from, to);
};

test('defaults: a minimal config comes back with every default filled in', () => {
  const c = parseConfig(MINIMAL, 'proxy.yaml', {});
  const [l] = c.listeners;
  assert.ok(l);
  assert.deepEqual(
    { name: l.name, host: l.host, port: l.port, protocol: l.protocol, tls: l.tls, routes: l.routes },
    { name: 'main', host: '127.0.0.1', port: 8080, protocol: 'http', tls: null, routes: [{ host: null, pathPrefix: '/', cluster: 'demo' }] },
  );
  assert.deepEqual(l.client, {
    idleTimeoutMs: 75_000,
    hintMarginMs: 1_000,
    maxRequestsPerConnection: 1_000,
    maxConnectionAgeMs: 3_600_000,
    maxConnections: 10_000,
    whenFull: 'reject',
    headersTimeoutMs: 60_000,
    requestTimeoutMs: 300_000,
    maxHeaderBytes: 16_384,
    maxHeaders: 100,
    tcpKeepAlive: null,
    http2: { maxConcurrentStreams: 128, pingIntervalMs: 60_000, pingTimeoutMs: 20_000, idleTimeoutMs: 75_000, maxConnectionAgeMs: 3_600_000, minPingIntervalWithoutDataMs: 300_000, maxPingStrikes: 2, maxPingsPerMinute: 60, maxSettingsPerMinute: 100, prematureResetMinStreams: 100 },
  });
  assert.equal(l.http2, true);
  assert.equal(l.http2PriorKnowledge, true);
  assert.deepEqual(c.client, l.client);
  const demo = getCluster(c, 'demo');
  assert.deepEqual(demo, {
    name: 'demo',
    protocol: 'http1',
    http2: { maxConcurrentStreams: 0, pingIntervalMs: 300_000, pingTimeoutMs: 20_000, pingBeforeReuseMs: 30_000, maxConnectionAgeMs: 0 },
    balancer: 'round-robin',
    hashOn: null,
    endpoints: [{ address: '127.0.0.1:9001', host: '127.0.0.1', port: 9001, weight: 1 }],
    discovery: null,
    endpointsFile: null,
    tls: { enabled: false, servername: null, caFile: null, rejectUnauthorized: true, sessionCacheSize: 100 },
    pool: { maxIdlePerEndpoint: 64, idleTimeoutMs: 60_000, hintMarginMs: 1_000, defaultBackendIdleMs: 5_000, maxConnectionsPerEndpoint: 0, maxRequestsPerConnection: 0 },
    timeouts: { connectTimeoutMs: 5_000, responseHeadersTimeoutMs: 60_000, idleStreamTimeoutMs: 300_000 },
    tcpKeepAlive: null,
    retries: { maxAttempts: 2, retryOn: ['connect-failure', 'reset', 'response-timeout'], timeBudgetMs: 0 },
    healthCheck: null,
    outlierDetection: { consecutive5xx: 5, consecutiveConnectFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 },
  });
  assert.deepEqual(c.websocket, { idleTimeoutMs: 300_000, pingIntervalMs: 0, pingTimeoutMs: 10_000 });
  assert.equal(c.admin, null);
  assert.deepEqual(c.accessLog, { kind: 'stdout' });
  assert.deepEqual(c.drain, { timeoutMs: 30_000, spreadMs: 5_000 });
  assert.equal(c.workers, 1);
  assert.equal(c.demo, null);
  assert.equal(c.file, resolve('proxy.yaml'));
  assert.throws(() => getCluster(c, 'nope'), /no cluster named "nope"/);
});

test('defaults inside present blocks; listener client overrides merge over the top-level client', () => {
  const c = parseConfig(
    MINIMAL.replace('      - cluster: demo\n', '      - cluster: demo\n    client: { idleTimeoutMs: 120000 }\n') +
      `    healthCheck: {}\n    tcpKeepAlive: { idleMs: 30000 }\nclient:\n  maxHeaders: 50\nadmin: {}\nworkers: auto\naccessLog: { target: logs/access.log }\n`,
    '/etc/lifeline/proxy.yaml',
    {},
  );
  const cluster = getCluster(c, 'demo');
  assert.deepEqual(cluster.healthCheck, { path: '/healthz', intervalMs: 5_000, timeoutMs: 2_000, expectStatus: { min: 200, max: 200 }, rise: 2, fall: 3 });
  assert.deepEqual(cluster.tcpKeepAlive, { idleMs: 30_000, intervalMs: 10_000, count: 6, userTimeoutMs: null });
  assert.equal(c.listeners[0]?.client.idleTimeoutMs, 120_000);
  assert.equal(c.listeners[0]?.client.maxHeaders, 50);
  assert.equal(c.client.idleTimeoutMs, 75_000);
  assert.deepEqual(c.admin, { address: '127.0.0.1:9901', host: '127.0.0.1', port: 9901, token: null });
  assert.deepEqual(c.eventLog, { target: { kind: 'stderr' }, level: 'info' });
  assert.ok(c.workers >= 1 && c.workers <= 64);
  assert.deepEqual(c.accessLog, { kind: 'file', path: '/etc/lifeline/logs/access.log' });
});

test('examples/demo.yaml loads cleanly and is what npm start needs', async () => {
  const c = await loadConfig(join(EXAMPLES, 'demo.yaml'), {});
  assert.equal(c.listeners[0]?.address, '127.0.0.1:8080');
  assert.deepEqual(c.listeners[0]?.routes, [{ host: null, pathPrefix: '/', cluster: 'demo' }]);
  assert.deepEqual(getCluster(c, 'demo').endpoints.map((e) => e.address), ['127.0.0.1:9001', '127.0.0.1:9002']);
  assert.notEqual(getCluster(c, 'demo').healthCheck, null);
  assert.equal(c.admin?.port, 9901);
  assert.deepEqual(c.demo?.upstreams.map((u) => u.port), [9001, 9002]);
});

test('examples/full.yaml loads cleanly with TLS files from the environment', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-config-'));
  try {
    const { key, cert } = makeTestCert();
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key);
    const env = { LIFELINE_TLS_CERT: join(dir, 'cert.pem'), LIFELINE_TLS_KEY: join(dir, 'key.pem') };
    const c = await loadConfig(join(EXAMPLES, 'full.yaml'), env);
    assert.equal(c.listeners[0]?.tls?.certFile, env.LIFELINE_TLS_CERT);
    assert.equal(c.listeners[0]?.client.idleTimeoutMs, 120_000);
    assert.equal(c.listeners[1]?.host, '::1');
    assert.deepEqual(getCluster(c, 'api').healthCheck?.expectStatus, { min: 200, max: 399 });
    assert.equal(getCluster(c, 'api').tls.enabled, true);
    assert.equal(c.clusters.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('examples/full.yaml loads as shipped: its default TLS files are the example ones under examples/tls', async () => {
  const c = await loadConfig(join(EXAMPLES, 'full.yaml'), {});
  assert.equal(c.listeners[0]?.tls?.certFile, join(EXAMPLES, 'tls', 'cert.pem'));
  assert.equal(c.listeners[0]?.tls?.keyFile, join(EXAMPLES, 'tls', 'key.pem'));
});

test('${ENV} substitution: plain values are typed, quoted ones stay strings, defaults and $${ escapes', () => {
  const text = withText('address: 127.0.0.1:8080', 'address: ${HOST:-127.0.0.1}:${PORT}') + `client:\n  idleTimeoutMs: \${IDLE}\naccessLog:\n  target: "\${LOGDIR:-/var/log}/a$\${b}.log"\n`;
  const c = parseConfig(text, 'proxy.yaml', { PORT: '8181', IDLE: '90000', HOST: '' });
  assert.equal(c.listeners[0]?.port, 8181);
  assert.equal(c.listeners[0]?.host, '127.0.0.1');
  assert.equal(c.client.idleTimeoutMs, 90_000);
  assert.deepEqual(c.accessLog, { kind: 'file', path: '/var/log/a${b}.log' });
  // A value cannot change the file's structure, and comments are not substituted.
  const c2 = parseConfig(MINIMAL + 'accessLog:\n  target: ${T} # ${NOT_SET}\n', 'proxy.yaml', { T: '/tmp/x: y\nworkers: 5' });
  assert.deepEqual(c2.accessLog, { kind: 'file', path: '/tmp/x: y\nworkers: 5' });
  assert.equal(c2.workers, 1);
});

test('${ENV}: an unset variable without default is an error naming it and its line', () => {
  const { error, problems } = problemsOf(withText('address: 127.0.0.1:8080', 'address: 127.0.0.1:${PORT}') + 'client:\n  idleTimeoutMs: ${IDLE}\n');
  assert.equal(problems.length, 2, error.message);
  assert.match(error.message, /^proxy\.yaml:3:14: listeners\[0\]\.address: environment variable PORT is not set and has no default/m);
  assert.match(error.message, /^proxy\.yaml:11:18: client\.idleTimeoutMs: environment variable IDLE is not set/m);
});

test('JSON configs parse, and their errors carry lines too', () => {
  const json = JSON.stringify(
    { listeners: [{ name: 'main', address: '127.0.0.1:8080', routes: [{ cluster: 'demo' }] }], clusters: { demo: { endpoints: [{ address: '127.0.0.1:9001' }] } } },
    null,
    2,
  );
  assert.equal(parseConfig(json, 'proxy.json', {}).listeners[0]?.port, 8080);
  const bad = json.replace('"127.0.0.1:9001"', '"127.0.0.1:9001",\n            "wieght": 3');
  const { error } = problemsOf(bad, {}, 'proxy.json');
  assert.match(error.message, /^proxy\.json:18:13: clusters\.demo\.endpoints\[0\]\.wieght: unknown key "wieght"; did you mean "weight"\?$/m);
});

test('bad config: unknown key with a suggestion', () => {
  const p = oneProblem(withText('    routes:', '    adress: x\n    routes:'), /^proxy\.yaml:4:5: listeners\[0\]\.adress: unknown key "adress"; did you mean "address"\?$/m);
  assert.equal(p.found, 'unknown key "adress"');
  oneProblem(MINIMAL + 'colour: blue\n', /^proxy\.yaml:10:1: colour: unknown key "colour"; known keys here: listeners, client/m);
});

test('bad config: a mistyped enum value gets "did you mean"', () => {
  const p = oneProblem(withText('    endpoints:', '    balancer: round-robbin\n    endpoints:'), /^proxy\.yaml:8:5: clusters\.demo\.balancer: expected one of "round-robin", .*, found "round-robbin" \(a string\); did you mean "round-robin"\?$/m);
  assert.equal(p.path, 'clusters.demo.balancer');
  oneProblem(withText('    endpoints:', '    balancer: least-conections\n    endpoints:'), /found "least-conections" \(a string\); did you mean "least-connections"\?$/m);
});

test('bad config: wrong type', () => {
  oneProblem(MINIMAL + 'client:\n  tcpKeepAlive: yes\n', /^proxy\.yaml:11:3: client\.tcpKeepAlive: expected a mapping of TCP keepalive settings .*, found "yes" \(a string\)$/m);
  oneProblem(withText('    endpoints:\n      - address: 127.0.0.1:9001', '    endpoints: 127.0.0.1:9001'), /^proxy\.yaml:8:5: clusters\.demo\.endpoints: expected a list of endpoints, found "127\.0\.0\.1:9001" \(a string\)$/m);
});

test('bad config: negative timeout, non-integer ms, and a duration written with a unit', () => {
  const text = MINIMAL + '    timeouts:\n      connectTimeoutMs: -5\n      idleStreamTimeoutMs: 1.5\n      responseHeadersTimeoutMs: "75s"\n';
  const { error, problems } = problemsOf(text);
  assert.equal(problems.length, 3, error.message);
  assert.match(error.message, /^proxy\.yaml:11:7: clusters\.demo\.timeouts\.connectTimeoutMs: expected an integer of milliseconds >= 1, found -5$/m);
  assert.match(error.message, /^proxy\.yaml:12:7: clusters\.demo\.timeouts\.idleStreamTimeoutMs: expected an integer of milliseconds >= 0 \(0 = off\), found 1\.5$/m);
  assert.match(error.message, /^proxy\.yaml:13:7: .*responseHeadersTimeoutMs: .*found "75s" \(a string; durations are integer milliseconds: write 75000\)$/m);
});

test('bad config: a route naming an unknown cluster', () => {
  oneProblem(withText('- cluster: demo', '- cluster: dmeo'), /^proxy\.yaml:5:9: listeners\[0\]\.routes\[0\]\.cluster: expected the name of a cluster under "clusters" \(defined: demo\), found "dmeo"; did you mean "demo"\?$/m);
});

test('bad config: duplicate listener name and colliding addresses', () => {
  const dup = MINIMAL.replace('clusters:', '  - name: main\n    address: 0.0.0.0:8080\n    routes: [{ cluster: demo }]\nclusters:');
  const { error, problems } = problemsOf(dup);
  assert.equal(problems.length, 2, error.message);
  assert.match(error.message, /^proxy\.yaml:6:5: listeners\[1\]\.name: expected a name no other listener has, found "main", already the name of listeners\[0\]$/m);
  assert.match(error.message, /^proxy\.yaml:7:5: listeners\[1\]\.address: .*found "0\.0\.0\.0:8080", which collides with listeners\[0\]\.address/m);
  oneProblem(MINIMAL + 'admin: { address: "127.0.0.1:8080" }\n', /^proxy\.yaml:10:10: admin\.address: .*collides with listeners\[0\]\.address/m);
});

test('bad config: https without tls, and tls on an http listener', () => {
  oneProblem(withText('    routes:', '    protocol: https\n    routes:'), /^proxy\.yaml:4:5: listeners\[0\]\.protocol: expected a "tls" block \(certFile, keyFile\) with protocol https, found https without tls$/m);
  oneProblem(withText('    routes:', '    tls: { certFile: a.pem, keyFile: b.pem }\n    routes:'), /^proxy\.yaml:4:5: listeners\[0\]\.tls: expected protocol: https/m);
});

test('bad config (loadConfig): unreadable or mismatched TLS key file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-config-'));
  try {
    const { key, cert } = makeTestCert();
    const other = makeTestCert({ keyType: 'ec' });
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key);
    writeFileSync(join(dir, 'other-key.pem'), other.key);
    const text = (keyFile: string): string => withText('    routes:', `    protocol: https\n    tls:\n      certFile: cert.pem\n      keyFile: ${keyFile}\n    routes:`);
    const file = join(dir, 'proxy.yaml');
    writeFileSync(file, text('missing.pem'));
    await assert.rejects(loadConfig(file, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /proxy\.yaml:7:7: listeners\[0\]\.tls\.keyFile: expected a readable PEM private key file, found unreadable file .*missing\.pem \(ENOENT: no such file\)$/m);
      return true;
    });
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'key.pem'), 0o000);
      writeFileSync(file, text('key.pem'));
      await assert.rejects(loadConfig(file, {}), /listeners\[0\]\.tls\.keyFile: .*key\.pem \(EACCES: permission denied\)/);
      chmodSync(join(dir, 'key.pem'), 0o600);
    }
    writeFileSync(file, text('other-key.pem'));
    await assert.rejects(loadConfig(file, {}), /proxy\.yaml:7:7: listeners\[0\]\.tls\.keyFile: expected the private key of certFile .*cert\.pem, found .*other-key\.pem, the key of another certificate$/m);
    writeFileSync(file, text('key.pem'));
    const ok = await loadConfig(file, {});
    assert.equal(ok.listeners[0]?.tls?.keyFile, join(dir, 'key.pem'));
    // parseConfig does no file I/O: the missing key is not its business.
    assert.equal(parseConfig(text('missing.pem'), file, {}).listeners[0]?.tls?.keyFile, join(dir, 'missing.pem'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad config: malformed addresses and ports out of range', () => {
  oneProblem(withText('127.0.0.1:8080', '127.0.0.1'), /^proxy\.yaml:3:5: listeners\[0\]\.address: expected a "host:port" address .*, found "127\.0\.0\.1" \(a string\): no ":port"$/m);
  oneProblem(withText('127.0.0.1:8080', '"::1:8080"'), /found "::1:8080" \(a string\): an IPv6 address without brackets \(write \[::1\]:8080\)$/m);
  oneProblem(withText('127.0.0.1:8080', '127.0.0.1:70000'), /^proxy\.yaml:3:5: listeners\[0\]\.address: .*port 70000, out of range 0 to 65535$/m);
  oneProblem(withText('127.0.0.1:9001', '127.0.0.1:0'), /^proxy\.yaml:9:9: clusters\.demo\.endpoints\[0\]\.address: expected a "host:port" address with a port from 1 to 65535.*port 0, out of range 1 to 65535$/m);
  assert.equal(parseConfig(withText('127.0.0.1:8080', '"[::1]:0"'), 'proxy.yaml', {}).listeners[0]?.port, 0);
});

test('bad config: unknown balancer, weight out of range, bad expectStatus', () => {
  oneProblem(withText('    endpoints:', '    balancer: fastest\n    endpoints:'), /^proxy\.yaml:8:5: clusters\.demo\.balancer: expected one of "round-robin", "least-connections", "p2c-ewma", "ring-hash", "maglev", found "fastest" \(a string\)$/m);
  oneProblem(MINIMAL.replace('9001\n', '9001\n        weight: 1001\n'), /clusters\.demo\.endpoints\[0\]\.weight: expected an integer from 1 to 1000, found 1001$/m);
  oneProblem(MINIMAL + '    healthCheck: { expectStatus: "399-200" }\n', /^proxy\.yaml:10:20: clusters\.demo\.healthCheck\.expectStatus: expected a status from 100 to 599, or a range such as "200-399", found "399-200" \(a string\)$/m);
});

test('bad config: invalid YAML syntax with its line, and an empty file', () => {
  const syntax = problemsOf(withText('    routes:\n', '    routes:\n   - : [\n'));
  assert.match(syntax.error.message, /^proxy\.yaml:4:12: invalid YAML or JSON: All sequence items must start at the same column$/m);
  const { problems } = problemsOf('listeners:\n  - name: a\n    address: "x:1\nclusters: {}\n');
  assert.ok(problems.length >= 1 && problems.every((p) => p.line >= 3), JSON.stringify(problems));
  const dupKey = problemsOf(MINIMAL + 'workers: 2\nworkers: 3\n');
  assert.match(dupKey.error.message, /^proxy\.yaml:11:1: invalid YAML or JSON: Map keys must be unique/m);
  oneProblem('', /^proxy\.yaml:1:1: expected a mapping with at least "listeners" and "clusters", found an empty file$/);
  oneProblem('# only a comment\n', /found an empty file$/);
  oneProblem('- a\n- b\n', /^proxy\.yaml:1:1: expected a mapping of proxy settings .*, found a list$/);
});

test('bad config: relations between timeouts', () => {
  oneProblem(MINIMAL + 'client:\n  headersTimeoutMs: 70000\n  requestTimeoutMs: 60000\n', /^proxy\.yaml:11:3: client\.headersTimeoutMs: expected headersTimeoutMs <= requestTimeoutMs \(60000\) when both are on, found 70000$/m);
  oneProblem(MINIMAL + 'client:\n  idleTimeoutMs: 1000\n', /^proxy\.yaml:11:3: client\.idleTimeoutMs: expected idleTimeoutMs > hintMarginMs \(1000\), found 1000$/m);
  oneProblem(MINIMAL + '    pool: { hintMarginMs: 5000 }\n', /clusters\.demo\.pool\.hintMarginMs: expected hintMarginMs < defaultBackendIdleMs \(5000\), found 5000$/m);
  oneProblem(MINIMAL + 'drain: { spreadMs: 40000 }\n', /^proxy\.yaml:10:10: drain\.spreadMs: expected spreadMs <= timeoutMs \(30000\), found 40000$/m);
  // Both off (0) is fine; a per-listener override is checked with the merged values.
  parseConfig(MINIMAL + 'client: { headersTimeoutMs: 0, requestTimeoutMs: 0 }\n', 'proxy.yaml', {});
  oneProblem(withText('      - cluster: demo\n', '      - cluster: demo\n    client: { requestTimeoutMs: 1000 }\n'), /^proxy\.yaml:6:15: listeners\[0\]\.client\.requestTimeoutMs: expected requestTimeoutMs >= headersTimeoutMs \(60000\) when both are on, found 1000$/m);
});

test('bad config: missing required keys and empty lists', () => {
  oneProblem(withText('    address: 127.0.0.1:8080\n', ''), /^proxy\.yaml:2:5: listeners\[0\]\.address: expected a "host:port" address .*, found nothing \(the key is missing\)$/m);
  oneProblem(MINIMAL.replace(/clusters:[\s\S]*/, 'clusters: {}\n'), /clusters: expected at least one cluster, found a mapping/m);
});

test('multiple problems are reported together, sorted by line', () => {
  const text = `listeners:
  - name: main
    adress: 127.0.0.1:8080
    routes:
      - cluster: dmeo
clusters:
  demo:
    balancer: fastest
    endpoints:
      - address: 127.0.0.1
    timeouts: { connectTimeoutMs: -5 }
workers: 0
`;
  const { error, problems } = problemsOf(text);
  assert.deepEqual(
    problems.map((p) => `${p.line}:${p.column} ${p.path}`),
    [
      '2:5 listeners[0].address',
      '3:5 listeners[0].adress',
      '5:9 listeners[0].routes[0].cluster',
      '8:5 clusters.demo.balancer',
      '10:9 clusters.demo.endpoints[0].address',
      '11:17 clusters.demo.timeouts.connectTimeoutMs',
      '12:1 workers',
    ],
  );
  assert.match(error.message, /^7 problems in the configuration:\n/);
  for (const p of problems) {
    assert.equal(p.file, 'proxy.yaml');
    assert.ok(p.expected.length > 0 && p.found.length > 0 && p.message.length > 0);
  }
});

test('loadConfig: a missing configuration file is a ConfigError too', async () => {
  await assert.rejects(loadConfig('/nonexistent/proxy.yaml', {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^\/nonexistent\/proxy\.yaml:1:1: cannot read the configuration file: ENOENT/);
    return true;
  });
  assert.ok(readFileSync(join(EXAMPLES, 'demo.yaml'), 'utf8').includes('127.0.0.1:9901'));
});

test('more checks: suggestions inside clusters and overrides, route hosts, duplicates, collisions, pings', () => {
  const text = `listeners:
  - name: main
    address: 127.0.0.1:8080
    client:
      idleTimeotMs: 5
      tcpKeepAlive: { idle: 5 }
    routes:
      - cluster: demo
        host: "a.com:80"
clusters:
  demo:
    healthcheck: {}
    endpoints:
      - address: 127.0.0.1:9001
      - address: 127.0.0.1:9001
    tls: { enabled: "yes" }
  "bad name": { endpoints: [{ address: "h:1" }] }
demo: { upstreams: ["127.0.0.1:8080"] }
websocket: { pingIntervalMs: 400000 }
`;
  const { error, problems } = problemsOf(text);
  const lines = error.message.split('\n').slice(1);
  assert.equal(problems.length, 9, error.message);
  assert.deepEqual(lines, [
    'proxy.yaml:5:7: listeners[0].client.idleTimeotMs: unknown key "idleTimeotMs"; did you mean "idleTimeoutMs"?',
    'proxy.yaml:6:23: listeners[0].client.tcpKeepAlive.idle: unknown key "idle"; did you mean "idleMs"?',
    'proxy.yaml:9:9: listeners[0].routes[0].host: expected a host name without port, or "*." and a domain (e.g. "*.example.com"), found "a.com:80" (a string): a port (the request\'s port is ignored)',
    'proxy.yaml:12:5: clusters.demo.healthcheck: unknown key "healthcheck"; did you mean "healthCheck"?',
    'proxy.yaml:15:9: clusters.demo.endpoints[1].address: expected an endpoint address not already in this cluster (raise "weight" instead), found "127.0.0.1:9001", the address of endpoints[0]',
    'proxy.yaml:16:12: clusters.demo.tls.enabled: expected true or false, found "yes" (a string)',
    'proxy.yaml:17:3: clusters["bad name"]: expected a cluster name of letters, digits, "-", "_" or ".", found "bad name"',
    'proxy.yaml:18:21: demo.upstreams[0]: expected an address no other listener, admin or demo upstream binds, found "127.0.0.1:8080", which collides with listeners[0].address ("127.0.0.1:8080")',
    'proxy.yaml:19:14: websocket.pingIntervalMs: expected pingIntervalMs < idleTimeoutMs (300000) so that pings keep an idle tunnel open, found 400000',
  ]);
});

test('renamed key: client.keepAliveHintMarginMs still works for one release, as hintMarginMs, with a deprecation notice', () => {
  const c = parseConfig(MINIMAL + 'client:\n  keepAliveHintMarginMs: 3000\n', 'proxy.yaml', {});
  assert.equal(c.listeners[0]?.client.hintMarginMs, 3_000);
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0] ?? '', /client\.keepAliveHintMarginMs is deprecated: it is now client\.hintMarginMs/);
  const fresh = parseConfig(MINIMAL + 'client:\n  hintMarginMs: 2000\n', 'proxy.yaml', {});
  assert.equal(fresh.listeners[0]?.client.hintMarginMs, 2_000);
  assert.deepEqual(fresh.warnings, []);
  // The relation check names the key the file used.
  oneProblem(MINIMAL + 'client:\n  idleTimeoutMs: 2000\n  keepAliveHintMarginMs: 2000\n', /^proxy\.yaml:12:3: client\.keepAliveHintMarginMs: expected keepAliveHintMarginMs < idleTimeoutMs \(2000\), found 2000$/m);
});

test('retries: retryOn and timeBudgetMs are read and checked', () => {
  const c = parseConfig(MINIMAL.replace('    endpoints:', "    retries: { maxAttempts: 3, retryOn: [connect-failure, '503'], timeBudgetMs: 2000 }\n    endpoints:"), 'proxy.yaml', {});
  assert.deepEqual(getCluster(c, 'demo').retries, { maxAttempts: 3, retryOn: ['connect-failure', '503'], timeBudgetMs: 2_000 });
  oneProblem(MINIMAL.replace('    endpoints:', '    retries: { retryOn: [timeout] }\n    endpoints:'), /clusters\.demo\.retries\.retryOn\[0\]: .*timeout/m);
});

test('client.http2: idle and age follow the client block unless set; a listener overrides single keys; bad values name their key', () => {
  const yaml = `listeners:
  - name: a
    address: 127.0.0.1:8080
    http2PriorKnowledge: false
    routes: [{ cluster: c }]
    client: { http2: { maxConcurrentStreams: 16 } }
clusters:
  c: { endpoints: [{ address: 127.0.0.1:9001 }] }
client:
  idleTimeoutMs: 30000
  http2: { pingIntervalMs: 5000 }
`;
  const c = parseConfig(yaml, 'proxy.yaml', {});
  const [l] = c.listeners;
  assert.ok(l);
  assert.equal(l.http2PriorKnowledge, false);
  assert.deepEqual(l.client.http2, { maxConcurrentStreams: 16, pingIntervalMs: 5_000, pingTimeoutMs: 20_000, idleTimeoutMs: 30_000, maxConnectionAgeMs: 3_600_000, minPingIntervalWithoutDataMs: 300_000, maxPingStrikes: 2, maxPingsPerMinute: 60, maxSettingsPerMinute: 100, prematureResetMinStreams: 100 });
  assert.throws(() => parseConfig(yaml.replace('pingIntervalMs: 5000', 'pingIntervalMs: -1'), 'proxy.yaml', {}), /client\.http2\.pingIntervalMs/);
  assert.throws(() => parseConfig(yaml.replace('http2PriorKnowledge: false', 'http2PriorKnowledge: maybe'), 'proxy.yaml', {}), /http2PriorKnowledge/);
});

test('cluster protocol and upstream http2 settings: bad values are named with their place', () => {
  const h2 = parseConfig(MINIMAL + '    protocol: http2\n    http2: { maxConcurrentStreams: 8, pingIntervalMs: 0 }\n', 'proxy.yaml', {});
  const demo = getCluster(h2, 'demo');
  assert.equal(demo.protocol, 'http2');
  assert.deepEqual(demo.http2, { maxConcurrentStreams: 8, pingIntervalMs: 0, pingTimeoutMs: 20_000, pingBeforeReuseMs: 30_000, maxConnectionAgeMs: 0 });
  const p = oneProblem(MINIMAL + '    protocol: h2\n', /^proxy\.yaml:10:5: clusters\.demo\.protocol: expected one of "http1", "http2", found "h2"/m);
  assert.match(p.found, /h2/);
  oneProblem(MINIMAL + '    http2: { pingTimeoutMs: 0 }\n', /clusters\.demo\.http2\.pingTimeoutMs/);
  oneProblem(MINIMAL + '    http2: { pingEveryMs: 5 }\n', /clusters\.demo\.http2\.pingEveryMs: unknown key/);
});
