import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffMembership, EndpointsFile, EndpointsFileError, isEmptyDiff, parseEndpointsFile } from '../src/proxy/discovery/index.js';
import type { EndpointsFileEvents } from '../src/proxy/discovery/index.js';
import { InvalidOptionError } from '../src/core/errors.js';

type Ev = EndpointsFileEvents;
function next<K extends keyof Ev>(f: EndpointsFile, event: K, timeoutMs = 3_000): Promise<Ev[K]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: Ev[K]): void => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      f.off(event, listener as never);
      reject(new Error(`no "${String(event)}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    f.once(event, listener as never);
  });
}

/** Replace `file` the way a deploy script should: write a temporary file, rename it over. */
function replaceAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

const pairs = (list: readonly { address: string; weight: number }[]): [string, number][] => list.map((e) => [e.address, e.weight]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('endpoints file: an atomic rename replaces the set; a bad file is refused with file:line and the old set kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-endpoints-'));
  const file = join(dir, 'api.yaml');
  writeFileSync(file, '- address: 10.0.0.1:8080\n- address: 10.0.0.2:8080\n  weight: 2\n');
  const f = new EndpointsFile({ path: file, debounceMs: 50 });
  const events: string[] = [];
  f.on('endpoints', () => events.push('endpoints'));
  f.on('unchanged', () => events.push('unchanged'));
  f.on('rejected', () => events.push('rejected'));
  try {
    assert.deepEqual(pairs(await f.start()), [['10.0.0.1:8080', 1], ['10.0.0.2:8080', 2]]);

    const changed = next(f, 'endpoints');
    replaceAtomically(file, '- address: 10.0.0.2:8080\n  weight: 5\n- address: 10.0.0.3:8080\n');
    const [set, diff] = await changed;
    assert.deepEqual(pairs(set), [['10.0.0.2:8080', 5], ['10.0.0.3:8080', 1]]);
    assert.deepEqual(pairs(diff.added), [['10.0.0.3:8080', 1]]);
    assert.deepEqual(pairs(diff.removed), [['10.0.0.1:8080', 1]]);
    assert.deepEqual(diff.reweighted, [{ address: '10.0.0.2:8080', fromWeight: 2, toWeight: 5 }]);

    // Every problem in one refusal, each with its line, column and entry.
    const rejected = next(f, 'rejected');
    replaceAtomically(file, ['- address: 10.0.0.4:8080', '- address: 10.0.0.5', '  weight: 0', '- address: 10.0.0.4:8080', '  wieght: 3', ''].join('\n'));
    const [err] = await rejected;
    assert.ok(err instanceof EndpointsFileError);
    assert.equal(err.code, 'ERR_ENDPOINTS_FILE');
    assert.equal(err.file, file);
    const lines = err.message.split('\n');
    assert.equal(lines[0], 'endpoints file refused:');
    assert.ok(lines.includes(`${file}:2:3: [1].address: expected a "host:port" address with a port from 1 to 65535 (IPv6 as [::1]:8080), found "10.0.0.5" (a string): no ":port"`), err.message);
    assert.ok(lines.includes(`${file}:3:3: [1].weight: expected an integer from 1 to 1000, found 0`), err.message);
    assert.ok(lines.includes(`${file}:5:3: [2].wieght: expected only "address" and "weight", found unknown key "wieght"`), err.message);
    assert.equal(lines[lines.length - 1], 'the old endpoints are kept (2)');
    assert.deepEqual(pairs(f.endpoints), [['10.0.0.2:8080', 5], ['10.0.0.3:8080', 1]], 'old set kept');

    // A duplicate address (checked once the entries are valid), and YAML that does not parse.
    const dup = next(f, 'rejected');
    replaceAtomically(file, '- address: 10.0.0.4:8080\n- address: 10.0.0.4:8080\n');
    assert.match((await dup)[0].message, new RegExp(`${file.replace(/[.]/g, '\\.')}:2:3: \\[1\\]\\.address: expected an address not already in the list \\(raise "weight" instead\\), found "10\\.0\\.0\\.4:8080", the address of \\[0\\]`));
    const broken = next(f, 'rejected');
    replaceAtomically(file, '- address: [10.0.0.4:8080\n');
    assert.match((await broken)[0].message, /api\.yaml:\d+:\d+: invalid YAML or JSON/);
    const empty = next(f, 'rejected');
    replaceAtomically(file, '[]\n');
    assert.match((await empty)[0].message, /api\.yaml:1:1: expected at least one endpoint \(an empty list would remove them all\), found a list/);

    // The file removed: refused (cannot read), old set kept.
    const gone = next(f, 'rejected');
    unlinkSync(file);
    assert.match((await gone)[0].message, /api\.yaml:1:1: cannot read the endpoints file \(ENOENT\)/);
    assert.equal(f.endpoints.length, 2);
    assert.equal(f.stats.rejections, 5);

    // Good again (JSON this time, JSON is YAML), then the same content: "unchanged".
    const back = next(f, 'endpoints');
    replaceAtomically(file, JSON.stringify([{ address: '10.0.0.9:80', weight: 3 }, { address: '[::1]:8080' }]));
    assert.deepEqual(pairs((await back)[0]), [['10.0.0.9:80', 3], ['[::1]:8080', 1]]);
    const same = next(f, 'unchanged');
    replaceAtomically(file, '- { address: "[::1]:8080" }\n- { address: "10.0.0.9:80", weight: 3 }\n');
    await same;
    assert.equal(events.filter((e) => e === 'endpoints').length, 3, events.join(','));
  } finally {
    f.close();
  }
  // Closed: changes are no longer seen.
  const count = events.length;
  replaceAtomically(file, '- address: 10.0.0.77:80\n');
  await sleep(300);
  assert.equal(events.length, count, 'a closed watcher reported a change');
  await assert.rejects(f.reload(), /closed/);
  rmSync(dir, { recursive: true, force: true });
});

test('endpoints file: a Kubernetes-style ConfigMap update (a swapped ..data symlink) is seen; other files in the directory are ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-endpoints-'));
  // The layout kubelet makes: api.yaml -> ..data/api.yaml, ..data -> ..v1 (swapped by rename).
  mkdirSync(join(dir, '..v1'));
  writeFileSync(join(dir, '..v1', 'api.yaml'), '- address: 10.0.0.1:80\n');
  symlinkSync('..v1', join(dir, '..data'));
  symlinkSync(join('..data', 'api.yaml'), join(dir, 'api.yaml'));
  const f = new EndpointsFile({ path: join(dir, 'api.yaml'), debounceMs: 50 });
  const events: string[] = [];
  for (const e of ['endpoints', 'unchanged', 'rejected'] as const) f.on(e, () => events.push(e));
  try {
    assert.deepEqual(pairs(await f.start()), [['10.0.0.1:80', 1]]);
    writeFileSync(join(dir, 'unrelated.txt'), 'x');
    await sleep(400);
    assert.deepEqual(events, ['endpoints'], 'an unrelated file changed nothing');
    const changed = next(f, 'endpoints');
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'api.yaml'), '- address: 10.0.0.2:80\n');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    assert.deepEqual(pairs((await changed)[0]), [['10.0.0.2:80', 1]]);
  } finally {
    f.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('endpoints file: a bad file at start is refused (nothing to keep); bad options are named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-endpoints-'));
  const file = join(dir, 'api.json');
  writeFileSync(file, '[{"address": "10.0.0.1:0"}]');
  const f = new EndpointsFile({ path: file });
  await assert.rejects(f.start(), (e: unknown) => e instanceof EndpointsFileError && e.message.includes(`${file}:1:3: [0].address: expected a "host:port" address with a port from 1 to 65535 (IPv6 as [::1]:8080), found "10.0.0.1:0" (a string): port 0, out of range 1 to 65535`));
  f.close();
  await assert.rejects(new EndpointsFile({ path: join(dir, 'missing.yaml') }).start(), /missing\.yaml:1:1: cannot read the endpoints file \(ENOENT\)/);
  assert.throws(() => new EndpointsFile({ path: '' }), InvalidOptionError);
  assert.throws(() => new EndpointsFile({ path: file, debounce: 5 } as never), /debounce is not a known option/);
  assert.throws(() => parseEndpointsFile('address: 10.0.0.1:80\n', 'x.yaml'), /x\.yaml:1:1: expected a list of endpoints \(\{ address, weight \}\), found a mapping/);
  assert.throws(() => parseEndpointsFile('', 'x.yaml'), /x\.yaml:1:1: expected a list of endpoints .*, found an empty file/);
  rmSync(dir, { recursive: true, force: true });
});

test('membership diff: keyed by address (host case-insensitive), so kept endpoints keep their state', () => {
  const d = diffMembership(
    [{ address: 'API-1.internal:80', weight: 1 }, { address: '10.0.0.2:80', weight: 1 }, { address: '10.0.0.3:80', weight: 2 }],
    [{ address: '10.0.0.3:80', weight: 5 }, { address: 'api-1.internal:80', weight: 1 }, { address: '10.0.0.4:80', weight: 1 }],
  );
  assert.deepEqual(d.added, [{ address: '10.0.0.4:80', weight: 1 }]);
  assert.deepEqual(d.removed, [{ address: '10.0.0.2:80', weight: 1 }]);
  assert.deepEqual(d.reweighted, [{ address: '10.0.0.3:80', fromWeight: 2, toWeight: 5 }]);
  assert.deepEqual(d.unchanged, [{ address: 'API-1.internal:80', weight: 1 }], 'the old spelling: the engine finds its member by it');
  assert.equal(isEmptyDiff(d), false);
  assert.equal(isEmptyDiff(diffMembership(d.unchanged, [{ address: 'api-1.internal:80', weight: 1 }])), true);
  assert.deepEqual(diffMembership([], []), { added: [], removed: [], reweighted: [], unchanged: [] });
  // A different port is a different endpoint.
  assert.deepEqual(diffMembership([{ address: '10.0.0.1:80', weight: 1 }], [{ address: '10.0.0.1:81', weight: 1 }]).removed, [{ address: '10.0.0.1:80', weight: 1 }]);
  assert.throws(() => diffMembership([], [{ address: 'a:1', weight: 1 }, { address: 'A:1', weight: 2 }]), /new\[1\]\.address "A:1" appears twice/);
});
