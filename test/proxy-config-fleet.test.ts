import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, getCluster, loadConfig, parseConfig } from '../src/proxy/config/index.js';

const HEAD = `listeners:
  - name: main
    address: 127.0.0.1:8080
    routes:
      - cluster: api
clusters:
  api:
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'proxy.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').filter((l) => l.startsWith('proxy.yaml:'));
  }
  assert.fail('expected a ConfigError');
}

test('config: DNS discovery (dns and srv), an endpoints file, hash balancers; defaults filled in', () => {
  const c = parseConfig(
    `${HEAD}    balancer: maglev
    hashOn: cookie:sid
    discovery: { type: dns, name: api.internal, port: 8080, resolver: ["127.0.0.1:5353", "[::1]"], maxRefreshMs: 60000 }
  srv:
    balancer: ring-hash
    hashOn: header:X-User-Id
    discovery: { type: srv, name: _http._tcp.api.internal, refreshIntervalMs: 5000, ipv6: false }
  file:
    endpointsFile: endpoints/api.yaml
`,
    '/etc/lifeline/proxy.yaml',
    {},
  );
  const api = getCluster(c, 'api');
  assert.equal(api.balancer, 'maglev');
  assert.deepEqual(api.hashOn, { kind: 'cookie', name: 'sid' });
  assert.deepEqual(api.endpoints, []);
  assert.deepEqual(api.discovery, { type: 'dns', name: 'api.internal', port: 8080, resolver: ['127.0.0.1:5353', '[::1]'], refreshIntervalMs: null, minRefreshMs: 1_000, maxRefreshMs: 60_000, queryTimeoutMs: 2_000, ipv6: true });
  assert.equal(api.endpointsFile, null);
  const srv = getCluster(c, 'srv');
  assert.deepEqual(srv.hashOn, { kind: 'header', name: 'x-user-id' });
  assert.deepEqual(srv.discovery, { type: 'srv', name: '_http._tcp.api.internal', port: null, resolver: null, refreshIntervalMs: 5_000, minRefreshMs: 1_000, maxRefreshMs: 300_000, queryTimeoutMs: 2_000, ipv6: false });
  const file = getCluster(c, 'file');
  assert.equal(file.endpointsFile, resolve('/etc/lifeline/endpoints/api.yaml'), 'relative to the config file');
  assert.equal(file.discovery, null);
  assert.equal(file.hashOn, null);
});

test('config: exactly one endpoint source; discovery and hashOn rules; each problem at its key with file:line', () => {
  assert.deepEqual(problems(`${HEAD}    balancer: round-robin\n`), ['proxy.yaml:7:3: clusters.api: expected exactly one of "endpoints" (a static list), "discovery" (DNS) or "endpointsFile", found none of them']);
  assert.deepEqual(problems(`${HEAD}    endpoints: [{ address: "127.0.0.1:9001" }]\n    endpointsFile: a.yaml\n`), [
    'proxy.yaml:9:5: clusters.api.endpointsFile: expected exactly one of "endpoints" (a static list), "discovery" (DNS) or "endpointsFile", found "endpoints" and "endpointsFile"',
  ]);
  assert.deepEqual(problems(`${HEAD}    discovery:\n      type: dns\n      name: api.internal\n`), ['proxy.yaml:8:5: clusters.api.discovery: expected a "port" with type dns (A and AAAA records carry no port), found no port']);
  assert.deepEqual(problems(`${HEAD}    discovery:\n      type: srv\n      name: api.internal\n      port: 80\n`), [
    'proxy.yaml:10:7: clusters.api.discovery.name: expected an SRV name "_service._proto.domain" (e.g. "_http._tcp.api.internal"), found "api.internal"',
    'proxy.yaml:11:7: clusters.api.discovery.port: expected no "port" with type srv (the SRV records give the ports), found 80',
  ]);
  assert.deepEqual(problems(`${HEAD}    discovery:\n      type: dns\n      name: api.internal\n      port: 80\n      resolver: [dns.google]\n      minRefreshMs: 5000\n      maxRefreshMs: 1000\n`), [
    'proxy.yaml:12:18: clusters.api.discovery.resolver[0]: expected a DNS server as "ip" or "ip:port" ([v6]:port), found "dns.google" (a string): "dns.google" is not an IP address with an optional port (a resolver is given by address, as nginx\'s is)',
    'proxy.yaml:13:7: clusters.api.discovery.minRefreshMs: expected minRefreshMs <= maxRefreshMs (1000), found 5000',
  ]);
  assert.deepEqual(problems(`${HEAD}    discovery: { type: a, name: x, port: 80, refreshMs: 5 }\n`), [
    'proxy.yaml:8:18: clusters.api.discovery.type: expected one of "dns", "srv", found "a" (a string)',
    'proxy.yaml:8:46: clusters.api.discovery.refreshMs: unknown key "refreshMs"; known keys here: type, name, port, resolver, refreshIntervalMs, minRefreshMs, maxRefreshMs, queryTimeoutMs, ipv6',
  ]);
  assert.deepEqual(problems(`${HEAD}    balancer: ring-hash\n    endpoints: [{ address: "127.0.0.1:9001" }]\n`), [
    'proxy.yaml:8:5: clusters.api.balancer: expected a "hashOn" key ("header:NAME", "cookie:NAME" or "client-address") with balancer ring-hash, found no hashOn',
  ]);
  assert.deepEqual(problems(`${HEAD}    hashOn: client-address\n    endpoints: [{ address: "127.0.0.1:9001" }]\n`), [
    'proxy.yaml:8:5: clusters.api.hashOn: expected hashOn only with balancer ring-hash or maglev, found balancer round-robin (the default)',
  ]);
  assert.deepEqual(problems(`${HEAD}    balancer: maglev\n    hashOn: query:id\n    endpoints: [{ address: "127.0.0.1:9001" }]\n`), [
    'proxy.yaml:9:5: clusters.api.hashOn: expected "header:NAME", "cookie:NAME" or "client-address", found "query:id" (a string): "query" is not one of header:NAME, cookie:NAME, client-address',
  ]);
});

test('config: loadConfig (and so --check) reads the endpoints file: a bad or missing one is a problem at its key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-fleet-config-'));
  try {
    const config = join(dir, 'proxy.yaml');
    writeFileSync(config, `${HEAD}    endpointsFile: api-endpoints.yaml\n`);
    writeFileSync(join(dir, 'api-endpoints.yaml'), '- address: 10.0.0.1:8080\n- address: 10.0.0.2\n');
    await assert.rejects(loadConfig(config, {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `${config}:8:5: clusters.api.endpointsFile: expected a valid endpoints file, found ${join(dir, 'api-endpoints.yaml')}, refused: ${join(dir, 'api-endpoints.yaml')}:2:3: [1].address: expected a "host:port" address with a port from 1 to 65535 (IPv6 as [::1]:8080), found "10.0.0.2" (a string): no ":port"`);
      return true;
    });
    writeFileSync(join(dir, 'api-endpoints.yaml'), '- address: 10.0.0.1:8080\n');
    assert.equal(getCluster(await loadConfig(config, {}), 'api').endpointsFile, join(dir, 'api-endpoints.yaml'));
    rmSync(join(dir, 'api-endpoints.yaml'));
    await assert.rejects(loadConfig(config, {}), /proxy\.yaml:8:5: clusters\.api\.endpointsFile: expected a readable JSON or YAML endpoints file, found unreadable file .*api-endpoints\.yaml \(ENOENT: no such file\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('examples/fleet.yaml loads', async () => {
  const c = await loadConfig(resolve(import.meta.dirname, '..', '..', 'examples', 'fleet.yaml'), {});
  assert.deepEqual(
    c.clusters.map((k) => [k.name, k.balancer, k.discovery?.type ?? null, k.endpointsFile === null ? null : 'file']),
    [
      ['api', 'round-robin', 'dns', null],
      ['payments', 'ring-hash', 'srv', null],
      ['sessions', 'maglev', null, 'file'],
    ],
  );
});
