import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createEndpoint, hashKey, keyHash32, MaglevBalancer, parseHashOn, RingHashBalancer } from '../src/proxy/balancer/index.js';
import type { Balancer, UpstreamEndpoint } from '../src/proxy/balancer/index.js';
import { InvalidOptionError } from '../src/core/errors.js';

const KEYS = 100_000;
const kinds: [string, () => RingHashBalancer | MaglevBalancer][] = [
  ['ring-hash', () => new RingHashBalancer()],
  ['maglev', () => new MaglevBalancer()],
];

function fleet(n: number, weight = (_i: number): number => 1): UpstreamEndpoint[] {
  return Array.from({ length: n }, (_, i) => createEndpoint(`10.1.0.${i + 1}:8080`, { weight: weight(i) }));
}

function choices(b: Balancer, eps: readonly UpstreamEndpoint[], keys = KEYS): string[] {
  const out: string[] = [];
  for (let k = 0; k < keys; k++) {
    const e = b.pick(eps, undefined, 0, `user-${k}`);
    assert.ok(e !== undefined, `key user-${k}: nothing picked`);
    out.push(e.key);
  }
  return out;
}

function counts(list: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of list) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

test('hash balancers: 5 endpoints and 100,000 keys spread within 10 % of even', () => {
  for (const [kind, make] of kinds) {
    const eps = fleet(5);
    const c = counts(choices(make(), eps));
    for (const e of eps) {
      const share = (c.get(e.key) ?? 0) / (KEYS / 5);
      assert.ok(share >= 0.9 && share <= 1.1, `${kind}: ${e.key} got ${(share * 100).toFixed(1)} % of an even share`);
    }
  }
});

test('hash balancers: weights set the shares (1, 2, 3, 1, 1 within 10 %)', () => {
  const weights = [1, 2, 3, 1, 1];
  for (const [kind, make] of kinds) {
    const eps = fleet(5, (i) => weights[i] as number);
    const c = counts(choices(make(), eps));
    for (const [i, e] of eps.entries()) {
      const share = (c.get(e.key) ?? 0) / ((KEYS * (weights[i] as number)) / 8);
      assert.ok(share >= 0.9 && share <= 1.1, `${kind}: ${e.key} (weight ${weights[i]}) got ${(share * 100).toFixed(1)} % of its share`);
    }
  }
});

test('hash balancers: removing one of 5 endpoints moves at most 1.2x its share of keys; adding it back restores every key', () => {
  for (const [kind, make] of kinds) {
    const eps = fleet(5);
    const b = make();
    const before = choices(b, eps);
    const gone = (eps[2] as UpstreamEndpoint).key;
    const after = choices(b, eps.filter((e) => e.key !== gone));
    let moved = 0;
    let movedFromSurvivors = 0;
    for (let k = 0; k < KEYS; k++) {
      if (before[k] === after[k]) continue;
      moved += 1;
      if (before[k] !== gone) movedFromSurvivors += 1;
    }
    assert.ok(after.every((k) => k !== gone), `${kind}: the removed endpoint was still picked`);
    assert.ok(moved <= 1.2 * (KEYS / 5), `${kind}: ${moved} of ${KEYS} keys moved; at most ${1.2 * (KEYS / 5)} allowed`);
    if (kind === 'ring-hash') assert.equal(movedFromSurvivors, 0, 'ring-hash: keys of surviving endpoints moved');
    else assert.ok(movedFromSurvivors <= KEYS * 0.02, `maglev: ${movedFromSurvivors} keys of surviving endpoints moved`);
    assert.deepEqual(choices(b, eps), before, `${kind}: the same set again gives the same choices`);
  }
});

test('hash balancers: the choice depends on the set, not on the order the engine lists it', () => {
  for (const [kind, make] of kinds) {
    const eps = fleet(5);
    const shuffled = [eps[3], eps[0], eps[4], eps[2], eps[1]] as UpstreamEndpoint[];
    assert.deepEqual(choices(make(), shuffled, 20_000), choices(make(), eps, 20_000), kind);
    // Fresh records with the same keys and weights, as after a restart or on another instance.
    assert.deepEqual(choices(make(), fleet(5), 20_000), choices(make(), eps, 20_000), kind);
  }
});

test('hash balancers: two separate processes give identical choices', async () => {
  const moduleUrl = new URL('../src/proxy/balancer/index.js', import.meta.url).href;
  const script = `
    const { createEndpoint, RingHashBalancer, MaglevBalancer } = await import(${JSON.stringify(moduleUrl)});
    const { createHash } = await import('node:crypto');
    const eps = Array.from({ length: 5 }, (_, i) => createEndpoint('10.1.0.' + (i + 1) + ':8080', { weight: 1 + (i % 3) }));
    const out = {};
    for (const [kind, b] of [['ring-hash', new RingHashBalancer()], ['maglev', new MaglevBalancer()]]) {
      const h = createHash('sha256');
      for (let k = 0; k < ${KEYS}; k++) h.update(b.pick(eps, undefined, 0, 'user-' + k).key + '\\n');
      out[kind] = h.digest('hex');
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const run = (): Promise<Record<string, string>> =>
    new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, cwd: fileURLToPath(new URL('.', import.meta.url)) }, (err, stdout, stderr) => {
        if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Record<string, string>);
      });
    });
  const [a, b] = await Promise.all([run(), run()]);
  const eps = fleet(5, (i) => 1 + (i % 3));
  const mine: Record<string, string> = {};
  for (const [kind, make] of kinds) {
    const h = createHash('sha256');
    for (const key of choices(make(), eps)) h.update(`${key}\n`);
    mine[kind] = h.digest('hex');
  }
  assert.deepEqual(a, b, 'the two child processes disagree');
  assert.deepEqual(a, mine, 'the child processes disagree with this one');
  assert.notEqual(mine['ring-hash'], mine['maglev'], 'ring-hash and maglev are different algorithms');
});

test('hash balancers: an unavailable endpoint\'s keys go elsewhere and come back, without a rebuild', () => {
  for (const [kind, make] of kinds) {
    const eps = fleet(5);
    const b = make();
    const before = choices(b, eps);
    assert.equal(b.rebuilds, 1, `${kind}: built once`);
    const down = eps[1] as UpstreamEndpoint;
    down.available = false;
    const during = choices(b, eps);
    let others = 0;
    for (let k = 0; k < KEYS; k++) {
      assert.notEqual(during[k], down.key, `${kind}: user-${k} went to the unavailable endpoint`);
      if (before[k] !== down.key && during[k] !== before[k]) others += 1;
    }
    assert.equal(others, 0, `${kind}: keys of available endpoints moved`);
    // The down endpoint's keys are spread over the others, not dumped on one.
    const c = counts(during.filter((_, k) => before[k] === down.key));
    assert.equal(c.size, 4, `${kind}: the down endpoint's keys went to ${c.size} endpoints`);
    down.available = true;
    assert.deepEqual(choices(b, eps), before, `${kind}: keys came back`);
    assert.equal(b.rebuilds, 1, `${kind}: health changes do not rebuild`);
    for (const e of eps) e.available = false;
    assert.equal(b.pick(eps, undefined, 0, 'user-1'), undefined, `${kind}: nothing available`);
  }
});

test('hash balancers: rebuilt only when the set or a weight changes; avoid is walked past', () => {
  for (const [kind, make] of kinds) {
    const eps = fleet(3);
    const b = make();
    choices(b, eps, 1000);
    choices(b, [...eps], 1000);
    assert.equal(b.rebuilds, 1, `${kind}: a fresh array of the same records does not rebuild`);
    (eps[0] as UpstreamEndpoint).weight = 4;
    const heavier = counts(choices(b, eps, 10_000));
    assert.equal(b.rebuilds, 2, `${kind}: a weight change rebuilds`);
    assert.ok((heavier.get((eps[0] as UpstreamEndpoint).key) ?? 0) > 6000, `${kind}: weight 4 of 6 got ${heavier.get((eps[0] as UpstreamEndpoint).key)} of 10000`);
    for (let k = 0; k < 300; k++) {
      const owner = b.pick(eps, undefined, 0, `s-${k}`) as UpstreamEndpoint;
      const retry = b.pick(eps, owner, 0, `s-${k}`);
      assert.ok(retry !== undefined && retry !== owner, `${kind}: the retry went back to the avoided endpoint`);
    }
    assert.equal(b.pick([eps[0] as UpstreamEndpoint], eps[0], 0, 'x'), eps[0], `${kind}: avoid is returned when it is the only choice`);
  }
});

test('hash balancers: no key means weighted rotation, never one endpoint', () => {
  for (const [kind, make] of kinds) {
    const eps = fleet(3, (i) => i + 1);
    const b = make();
    const c = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const e = b.pick(eps) as UpstreamEndpoint;
      c.set(e.key, (c.get(e.key) ?? 0) + 1);
    }
    assert.deepEqual(eps.map((e) => c.get(e.key)), [100, 200, 300], kind);
  }
});

test('maglev: the table size must be a prime; ring-hash options are checked', () => {
  assert.throws(() => new MaglevBalancer({ tableSize: 65_536 }), (e: unknown) => e instanceof InvalidOptionError && /must be a prime.*65536/.test(e.message));
  assert.throws(() => new RingHashBalancer({ minRingSize: 0 }), InvalidOptionError);
  assert.throws(() => new RingHashBalancer({ ringSize: 5 } as never), /not a known option/);
  const small = new MaglevBalancer({ tableSize: 251 });
  assert.ok(small.pick(fleet(3), undefined, 0, 'k') !== undefined);
});

test('keyHash32 is stable (fixed vectors) and spreads keys that differ only at the end', () => {
  // FNV-1a then murmur3's fmix32, as computed by an independent implementation (Python). A
  // change here would silently re-map every key on every instance.
  const vectors: [string, number][] = [['', 0xab3e7c0b], ['a', 0x1a80b1b3], ['user-1', 0x778f8aec], ['10.0.0.9', 0xde65645a]];
  for (const [k, v] of vectors) assert.equal(keyHash32(k), v, JSON.stringify(k));
  const top = new Set<number>();
  for (let i = 0; i < 256; i++) top.add(keyHash32(`user-${i}`) >>> 28);
  assert.equal(top.size, 16, 'the top 4 bits of consecutive keys take every value');
});

test('hashOn: header, cookie and client address; missing means no key; bad specs name the problem', () => {
  const head = { headers: ['Host', 'a', 'X-User-Id', 'u-42', 'Cookie', 'theme=dark; lang=fr', 'cookie', 'sid="s-9"; x=1', 'x-user-id', 'second'] };
  assert.equal(hashKey(parseHashOn('header:x-user-id'), head, '10.0.0.9'), 'u-42', 'first value, case-insensitive name');
  assert.equal(hashKey(parseHashOn('header:X-Missing'), head, '10.0.0.9'), undefined);
  assert.equal(hashKey(parseHashOn('cookie:sid'), head, '10.0.0.9'), 's-9', 'second Cookie header, quotes removed');
  assert.equal(hashKey(parseHashOn('cookie:lang'), head, '10.0.0.9'), 'fr');
  assert.equal(hashKey(parseHashOn('cookie:SID'), head, '10.0.0.9'), undefined, 'cookie names are case-sensitive');
  assert.equal(hashKey(parseHashOn('client-address'), head, '10.0.0.9'), '10.0.0.9');
  assert.equal(hashKey(parseHashOn('client-address'), head, ''), undefined);
  assert.deepEqual(parseHashOn('header:X-User-Id'), { kind: 'header', name: 'x-user-id' });
  for (const [bad, why] of [
    ['header:', /no name after "header:"/],
    ['query:id', /"query" is not one of/],
    ['cookie:a b', /"a b" is not a valid cookie name/],
    ['client', /"client" is not one of/],
  ] as const) {
    assert.throws(() => parseHashOn(bad), (e: unknown) => e instanceof InvalidOptionError && why.test(e.message) && e.message.includes(JSON.stringify(bad)), bad);
  }
});
