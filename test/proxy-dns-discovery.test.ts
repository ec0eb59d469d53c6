import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsDiscovery } from '../src/proxy/discovery/index.js';
import type { DnsDiscoveryEvents } from '../src/proxy/discovery/index.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { addressEndpoints, mergeWeighted, priorityGroups, srvText } from '../src/proxy/discovery/dns-answers.js';
import { Dnsmasq, dnsmasqBinary } from './helpers/dnsmasq.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const binary = dnsmasqBinary();
const skip = skipFor('dns discovery', binary === undefined ? 'dnsmasq is not installed (Debian package dnsmasq)' : undefined);

type Ev = DnsDiscoveryEvents;
/** The next `event` whose arguments satisfy `match`, within `timeoutMs`. */
function next<K extends keyof Ev>(d: DnsDiscovery, event: K, timeoutMs: number, match: (...args: Ev[K]) => boolean = () => true): Promise<Ev[K]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: Ev[K]): void => {
      if (!match(...args)) return;
      clearTimeout(timer);
      d.off(event, listener as never);
      resolve(args);
    };
    const timer = setTimeout(() => {
      d.off(event, listener as never);
      reject(new Error(`no matching "${String(event)}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    d.on(event, listener as never);
  });
}

const addresses = (list: readonly { address: string }[]): string[] => list.map((e) => e.address);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** One refresh (200 ms) plus room for a loaded machine; a miss here is a real failure to re-resolve. */
const ONE_REFRESH_MS = 200 + 1_500;

test('dns discovery: A records of a real dnsmasq go 2 -> 4 -> 1; the resolver stopped or answering empty keeps the last set', { skip }, async () => {
  const dns = await Dnsmasq.start(binary as string, ['127.0.0.11 api.test', '127.0.0.12 api.test'], [], 1);
  const d = new DnsDiscovery({ type: 'dns', name: 'api.test', port: 8080, resolver: [dns.server], minRefreshMs: 100, maxRefreshMs: 200, queryTimeoutMs: 300, tries: 1 });
  try {
    const first = next(d, 'endpoints', 5_000);
    assert.deepEqual(addresses(await d.start()), ['127.0.0.11:8080', '127.0.0.12:8080']);
    const [, diff0] = await first;
    assert.deepEqual(addresses(diff0.added), ['127.0.0.11:8080', '127.0.0.12:8080']);

    let t0 = Date.now();
    const grown = next(d, 'endpoints', ONE_REFRESH_MS);
    await dns.setHosts(['127.0.0.11 api.test', '127.0.0.12 api.test', '127.0.0.13 api.test', '127.0.0.14 api.test']);
    const [set4, diff4] = await grown;
    assert.deepEqual(addresses(set4), ['127.0.0.11:8080', '127.0.0.12:8080', '127.0.0.13:8080', '127.0.0.14:8080']);
    assert.deepEqual(addresses(diff4.added), ['127.0.0.13:8080', '127.0.0.14:8080']);
    assert.deepEqual(diff4.removed, []);
    assert.deepEqual(addresses(diff4.unchanged), ['127.0.0.11:8080', '127.0.0.12:8080'], 'kept addresses are kept, not re-added');
    assert.ok(Date.now() - t0 <= ONE_REFRESH_MS, `new endpoints seen after ${Date.now() - t0} ms`);

    t0 = Date.now();
    const shrunk = next(d, 'endpoints', ONE_REFRESH_MS);
    await dns.setHosts(['127.0.0.13 api.test']);
    const [set1, diff1] = await shrunk;
    assert.deepEqual(addresses(set1), ['127.0.0.13:8080']);
    assert.deepEqual(addresses(diff1.removed), ['127.0.0.11:8080', '127.0.0.12:8080', '127.0.0.14:8080']);
    assert.deepEqual(addresses(diff1.unchanged), ['127.0.0.13:8080']);
    assert.deepEqual(diff1.added, []);

    // Unchanged answers: resolved again, no endpoints event.
    let changes = 0;
    const count = (): void => void (changes += 1);
    d.on('endpoints', count);
    const resolvedBefore = d.stats.resolutions;
    await sleep(700);
    assert.ok(d.stats.resolutions >= resolvedBefore + 2, `re-resolved ${d.stats.resolutions - resolvedBefore} times in 700 ms at a 200 ms interval`);
    assert.equal(changes, 0, 'an unchanged answer emitted an endpoints event');

    // Resolver down mid-run: the last answer stays, an event and a count say so.
    const stale = next(d, 'stale', ONE_REFRESH_MS);
    await dns.stop();
    const [info] = await stale;
    assert.equal(info.reason, 'error');
    assert.equal(info.error.code, 'ERR_DNS_RESOLVE');
    assert.equal(info.kept, 1);
    assert.match(info.message, /dns discovery of api\.test: the resolver failed \((ECONNREFUSED|ETIMEOUT)\); keeping the last good answer \(1 endpoint\)/);
    await next(d, 'stale', ONE_REFRESH_MS);
    assert.ok(d.stats.failures >= 2 && d.stats.staleKept >= 2, JSON.stringify(d.stats));
    assert.deepEqual(addresses(d.endpoints), ['127.0.0.13:8080']);

    // Back with the name gone (NXDOMAIN): an empty answer, also kept over.
    await dns.setHosts(['127.0.0.99 other.test']);
    const empty = next(d, 'stale', 3_000, (s) => s.reason === 'empty');
    await dns.startAgain();
    const [emptyInfo] = await empty;
    assert.equal(emptyInfo.error.code, 'ERR_DNS_EMPTY');
    assert.match(emptyInfo.message, /no A or AAAA records; keeping the last good answer \(1 endpoint\)/);
    assert.ok(d.stats.emptyAnswers >= 1);
    assert.equal(changes, 0, 'failures and empty answers changed the set');
    assert.deepEqual(addresses(d.endpoints), ['127.0.0.13:8080']);

    // The name returns with the same address: still no change event.
    await dns.setHosts(['127.0.0.13 api.test']);
    await next(d, 'resolved', ONE_REFRESH_MS);
    assert.equal(changes, 0);
  } finally {
    d.close();
    await dns.close();
  }
  // Closed: nothing more happens.
  const after = { ...d.stats };
  await sleep(400);
  assert.deepEqual(d.stats, after, 'a closed discovery kept resolving');
  await assert.rejects(d.refresh(), /closed/);
});

test('dns discovery: SRV targets, ports and weights, lowest priority only; a weight change is a re-weight', { skip }, async () => {
  const hosts = ['127.0.0.21 t1.test', '127.0.0.22 t2.test', '127.0.0.23 t3.test'];
  const srv = (w1: number): string[] => [
    `srv-host=_http._tcp.svc.test,t1.test,8081,0,${w1}`,
    'srv-host=_http._tcp.svc.test,t2.test,8082,0,20',
    'srv-host=_http._tcp.svc.test,t3.test,8083,1,5',
  ];
  const dns = await Dnsmasq.start(binary as string, hosts, srv(10), 1);
  const d = new DnsDiscovery({ type: 'srv', name: '_http._tcp.svc.test', resolver: [dns.server], refreshIntervalMs: 150, queryTimeoutMs: 300, tries: 1 });
  try {
    const set = await d.start();
    assert.deepEqual(set.map((e) => [e.address, e.weight]), [['127.0.0.21:8081', 10], ['127.0.0.22:8082', 20]], 'priority 1 (t3) is a backup, not used');

    const reweighted = next(d, 'endpoints', 5_000);
    await dns.setSrv(srv(30));
    const [set2, diff] = await reweighted;
    assert.deepEqual(set2.map((e) => [e.address, e.weight]), [['127.0.0.21:8081', 30], ['127.0.0.22:8082', 20]]);
    assert.deepEqual(diff.reweighted, [{ address: '127.0.0.21:8081', fromWeight: 10, toWeight: 30 }]);
    assert.deepEqual([diff.added, diff.removed], [[], []]);

    // Bad records: port 0 and a target with no address are skipped, each named in an event.
    const problems: string[] = [];
    d.on('problem', (e) => problems.push(`${e.code} ${e.record ?? ''} ${e.message}`));
    let changes = 0;
    d.on('endpoints', () => void (changes += 1));
    await dns.setSrv([...srv(30), 'srv-host=_http._tcp.svc.test,t1.test,0,0,10', 'srv-host=_http._tcp.svc.test,t9.test,8089,0,10']);
    await sleep(400);
    assert.ok(problems.some((p) => /ERR_DNS_RECORD _http\._tcp\.svc\.test SRV 0 10 0 t1\.test .*has port 0; skipped/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /the target t9\.test of the SRV record _http\._tcp\.svc\.test SRV 0 10 8089 t9\.test does not resolve/.test(p)), problems.join('\n'));
    assert.deepEqual(addresses(d.endpoints), ['127.0.0.21:8081', '127.0.0.22:8082'], 'good records still used');
    assert.equal(changes, 0, 'skipped records changed the set');

    // No target of priority 0 resolves: the backup group is used.
    const backup = next(d, 'endpoints', 5_000);
    await dns.setHosts(['127.0.0.23 t3.test']);
    const [set3] = await backup;
    assert.deepEqual(set3.map((e) => [e.address, e.weight]), [['127.0.0.23:8083', 5]]);
  } finally {
    d.close();
    await dns.close();
  }
});

test('dns discovery: refresh follows the TTL within min/max, or a fixed interval; AAAA records; too many records are refused', { skip }, async () => {
  const many = Array.from({ length: 5 }, (_, i) => `127.0.0.${40 + i} many.test`);
  const dns = await Dnsmasq.start(binary as string, ['127.0.0.31 ttl.test', ...many, '127.0.0.51 dual.test', '::1 dual.test'], [], 2);
  const open: DnsDiscovery[] = [];
  try {
    const within = new DnsDiscovery({ type: 'dns', name: 'ttl.test', port: 80, resolver: [dns.server], minRefreshMs: 100, maxRefreshMs: 60_000 });
    const capped = new DnsDiscovery({ type: 'dns', name: 'ttl.test', port: 80, resolver: [dns.server], minRefreshMs: 100, maxRefreshMs: 700 });
    const raised = new DnsDiscovery({ type: 'dns', name: 'ttl.test', port: 80, resolver: [dns.server], minRefreshMs: 5_000, maxRefreshMs: 60_000 });
    const fixed = new DnsDiscovery({ type: 'dns', name: 'ttl.test', port: 80, resolver: [dns.server], refreshIntervalMs: 250 });
    open.push(within, capped, raised, fixed);
    const delays = await Promise.all(
      open.map(async (d) => {
        const r = next(d, 'resolved', 5_000);
        await d.start();
        return (await r)[0].nextRefreshMs;
      }),
    );
    assert.deepEqual(delays, [2_000, 700, 5_000, 250]);

    // AAAA records become bracketed endpoints; ipv6: false asks for A only.
    const dual = new DnsDiscovery({ type: 'dns', name: 'dual.test', port: 8080, resolver: [dns.server] });
    const v4 = new DnsDiscovery({ type: 'dns', name: 'dual.test', port: 8080, resolver: [dns.server], ipv6: false });
    open.push(dual, v4);
    assert.deepEqual(addresses(await dual.start()), ['127.0.0.51:8080', '[::1]:8080']);
    assert.deepEqual(addresses(await v4.start()), ['127.0.0.51:8080']);
    assert.deepEqual(dual.endpoints.map((e) => [e.host, e.port]), [['127.0.0.51', 8080], ['::1', 8080]]);

    const limited = new DnsDiscovery({ type: 'dns', name: 'many.test', port: 80, resolver: [dns.server], maxRecords: 3 });
    open.push(limited);
    const stale = next(limited, 'stale', 5_000);
    await limited.start();
    const [info] = await stale;
    assert.equal(info.reason, 'invalid');
    assert.equal(info.error.code, 'ERR_DNS_INVALID');
    assert.match(info.message, /dns discovery of many\.test: 5 address records, more than maxRecords \(3\); no good answer yet/);
    assert.equal(limited.stats.invalidAnswers, 1);
  } finally {
    for (const d of open) d.close();
    await dns.close();
  }
});

test('dns discovery: bad options name what is wrong', () => {
  const bad: [object, RegExp][] = [
    [{ type: 'dns', name: 'api.test' }, /port is required with type "dns"/],
    [{ type: 'srv', name: '_http._tcp.api.test', port: 80 }, /port is not allowed with type "srv"/],
    [{ type: 'srv', name: 'api.test' }, /name must be an SRV name "_service\._proto\.domain".*"api\.test"/],
    [{ type: 'dns', name: 'bad name', port: 80 }, /name must be a DNS host name; got "bad name"/],
    [{ type: 'a', name: 'x', port: 80 }, /type must be "dns" or "srv"/],
    [{ type: 'dns', name: 'api.test', port: 80, resolver: ['dns.google:53'] }, /resolver\[0\]: "dns\.google:53" is not an IP address/],
    [{ type: 'dns', name: 'api.test', port: 80, resolver: [] }, /resolver must be a non-empty list/],
    [{ type: 'dns', name: 'api.test', port: 80, minRefreshMs: 500, maxRefreshMs: 100 }, /maxRefreshMs/],
    [{ type: 'dns', name: 'api.test', port: 80, refreshMs: 100 }, /refreshMs is not a known option/],
    [{ type: 'dns', name: '10.0.0.1', port: 80 }, /name must be a DNS name; got the IP address 10\.0\.0\.1 \(list it under endpoints instead\)/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new DnsDiscovery(options as never), (e: unknown) => e instanceof InvalidOptionError && message.test(e.message), JSON.stringify(options));
  }
  const ok = new DnsDiscovery({ type: 'dns', name: 'api.test', port: 80, resolver: ['127.0.0.1:5353', '[::1]:53', '10.0.0.2'] });
  assert.deepEqual(ok.endpoints, []);
  ok.close();
});

test('dns answers: addresses dedupe and bracket IPv6; SRV groups by priority; the same address:port from two records adds weights', () => {
  assert.deepEqual(
    addressEndpoints([{ address: '10.0.0.2', ttl: 5 }, { address: '2001:db8::1', ttl: 5 }, { address: '10.0.0.2', ttl: 9 }], 443).map((e) => [e.address, e.host, e.port, e.weight]),
    [['10.0.0.2:443', '10.0.0.2', 443, 1], ['[2001:db8::1]:443', '2001:db8::1', 443, 1]],
  );
  const groups = priorityGroups([
    { name: 'b', port: 1, priority: 10, weight: 1 },
    { name: 'a', port: 1, priority: 0, weight: 1 },
    { name: 'c', port: 1, priority: 10, weight: 1 },
  ]);
  assert.deepEqual(groups.map((g) => g.map((r) => r.name)), [['a'], ['b', 'c']]);
  const merged = mergeWeighted([addressEndpoints([{ address: '10.0.0.1', ttl: 1 }], 80, 10), addressEndpoints([{ address: '10.0.0.1', ttl: 1 }, { address: '10.0.0.3', ttl: 1 }], 80, 5)]);
  assert.deepEqual(merged.map((e) => [e.address, e.weight]), [['10.0.0.1:80', 15], ['10.0.0.3:80', 5]]);
  assert.equal(srvText('_http._tcp.x', { name: '', port: 0, priority: 0, weight: 0 }), '_http._tcp.x SRV 0 0 0 .');
});
