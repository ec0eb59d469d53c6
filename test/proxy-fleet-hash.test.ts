/**
 * Consistent hashing through the whole proxy: one header value lands on one backend, the same
 * in two proxy instances; `hashOn: client-address` hashes an IPv4 client the same whether the
 * listener is IPv4 or dual-stack (where Node reports it as ::ffff:a.b.c.d).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';
import { request, scratchDir } from './helpers/proxy-harness.js';
import { proxyYaml, startBackends } from './helpers/fleet-backends.js';

test('fleet: ring-hash on a header sends one value to one backend, the same in two proxies', { timeout: 20_000 }, async (t) => {
  const backends = await startBackends();
  const scratch = scratchDir('fleet-hash');
  const endpoints = backends.map((b) => `{ address: "${b.name}:${b.port}" }`).join(', ');
  const yaml = (kind: string): string => proxyYaml(`    balancer: ${kind}\n    hashOn: "header:x-user"\n    endpoints: [${endpoints}]`, join(scratch.dir, 'events.log'));
  const proxies = [await Proxy.start(parseConfig(yaml('ring-hash'), join(scratch.dir, 'a.yaml'), {})), await Proxy.start(parseConfig(yaml('ring-hash'), join(scratch.dir, 'b.yaml'), {})), await Proxy.start(parseConfig(yaml('maglev'), join(scratch.dir, 'c.yaml'), {}))];
  t.after(async () => {
    for (const p of proxies) await p.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  const [a, b, c] = proxies as [Proxy, Proxy, Proxy];
  const chosen = new Set<string>();
  const maglevChosen = new Set<string>();
  for (let u = 0; u < 40; u++) {
    const headers = { 'x-user': `user-${u}` };
    const first = (await request(a.port(), { headers })).headers['x-backend'];
    assert.ok(typeof first === 'string');
    chosen.add(first);
    for (let k = 0; k < 3; k++) assert.equal((await request(a.port(), { headers })).headers['x-backend'], first, `user-${u} moved within one proxy`);
    assert.equal((await request(b.port(), { headers })).headers['x-backend'], first, `user-${u}: the two proxies disagree`);
    const m = (await request(c.port(), { headers })).headers['x-backend'];
    assert.equal((await request(c.port(), { headers })).headers['x-backend'], m, `user-${u} moved under maglev`);
    maglevChosen.add(String(m));
  }
  assert.ok(chosen.size >= 3, `40 users landed on only ${chosen.size} backends (ring-hash)`);
  assert.ok(maglevChosen.size >= 3, `40 users landed on only ${maglevChosen.size} backends (maglev)`);
});

test('fleet: hashOn client-address gives an IPv4 client the same backend on a dual-stack listener (::ffff:) as on an IPv4 one', { timeout: 10_000 }, async (t) => {
  const backends = await startBackends();
  const scratch = scratchDir('fleet-client-address');
  const endpoints = backends.map((b) => `{ address: "${b.name}:${b.port}" }`).join(', ');
  const yaml = (listen: string): string =>
    proxyYaml(`    balancer: ring-hash\n    hashOn: client-address\n    endpoints: [${endpoints}]`, join(scratch.dir, 'events.log')).replace('"127.0.0.1:0", routes', `"${listen}", routes`);
  const v4 = await Proxy.start(parseConfig(yaml('127.0.0.1:0'), join(scratch.dir, 'a.yaml'), {}));
  const dual = await Proxy.start(parseConfig(yaml('[::]:0'), join(scratch.dir, 'b.yaml'), {}));
  t.after(async () => {
    await v4.close();
    await dual.close();
    await Promise.all(backends.map((b) => b.close()));
    scratch.remove();
  });
  // Several client addresses, so a wrong key cannot land on the right backend by chance.
  const from = (port: number, localAddress: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, localAddress, agent: false, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-backend'])));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  const seen = new Set<string>();
  for (let i = 10; i < 18; i++) {
    const client = `127.0.0.${i}`;
    const onV4 = await from(v4.port(), client);
    seen.add(onV4);
    assert.equal(await from(v4.port(), client), onV4, `${client} moved between backends`);
    assert.equal(await from(dual.port(), client), onV4, `${client}: the dual-stack listener hashed ::ffff:${client}, not ${client}`);
  }
  assert.ok(seen.size >= 2, 'eight client addresses all hashed to one backend');
});
