/**
 * Each package subpath loads only the runtime dependencies it uses: importing `lifeline/lease`
 * does not load ioredis (only making a Redis store does), `lifeline/awake` does not load D-Bus,
 * and so on. Each subpath is imported from dist/ in a child process whose module resolution is
 * watched by a `module.register` resolve hook (Node 20.6+) that records every resolved URL; files
 * loaded with require() (which that hook does not see in Node 20) are read from require's cache
 * at exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUNTIME = ['ioredis', '@particle/dbus-next', 'prom-client', 'ws', 'yaml', 'zod'] as const;
type Dep = (typeof RUNTIME)[number];

/** Subpath (package.json `exports`) -> the runtime dependencies it may load at import. */
const ALLOWED: Record<string, readonly Dep[]> = {
  '.': [],
  './core': [],
  './transport': [],
  './agent': [],
  './server': [],
  // The tunnel's metrics go through prom-client (a regular dependency, not an optional one).
  './tunnel': ['ws', 'prom-client'],
  './lease': [],
  './awake': [],
  './proxy': ['prom-client', 'yaml', 'zod'],
  './probe': [],
};

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.LIFELINE_RESOLVED_LOG, result.url + '\\n');
  return result;
}
`;

/** The --import script: the resolve hook, and require's cache appended to the same log at exit. */
function registerScript(hooks: string): string {
  return [
    "import { register, createRequire } from 'node:module';",
    "import { appendFileSync } from 'node:fs';",
    `register(${JSON.stringify(hooks)});`,
    "const cache = createRequire(process.cwd() + '/').cache;",
    "process.on('exit', () => appendFileSync(process.env.LIFELINE_RESOLVED_LOG, Object.keys(cache).map((f) => 'file://' + f + '\\n').join('')));",
  ].join('\n');
}

/** The runtime dependencies whose files were resolved while importing `subpath`. */
function loadedBy(dir: string, subpath: string): { deps: Dep[]; urls: string[] } {
  const log = join(dir, `${subpath.replace(/[^a-z]/g, '_')}.log`);
  writeFileSync(log, '');
  const hooks = pathToFileURL(join(dir, 'hooks.mjs')).href;
  const register = registerScript(hooks);
  const specifier = subpath === '.' ? 'lifeline-keepalive' : `lifeline-keepalive/${subpath.slice(2)}`;
  // Imported by its package name (self-reference through package.json exports), as a user would.
  execFileSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', `await import(${JSON.stringify(specifier)});`], {
    cwd: root,
    env: { ...process.env, LIFELINE_RESOLVED_LOG: log },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 30_000,
  });
  const urls = readFileSync(log, 'utf8').split('\n').filter((u) => u !== '');
  const deps = RUNTIME.filter((dep) => urls.some((u) => u.includes(`/node_modules/${dep}/`)));
  return { deps, urls };
}

test('every package subpath loads only the runtime dependencies it uses', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const subpaths = Object.keys(pkg.exports).filter((s) => s !== './package.json');
  assert.deepEqual(subpaths.filter((s) => !(s in ALLOWED)), [], 'every subpath has an expectation here');
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-lazy-'));
  try {
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    const wrong: string[] = [];
    for (const subpath of subpaths) {
      const { deps, urls } = loadedBy(dir, subpath);
      assert.ok(urls.some((u) => u.includes('/dist/src/')), `the hook saw ${subpath} load lifeline's own files (${urls.length} URLs)`);
      const extra = deps.filter((d) => !(ALLOWED[subpath] ?? []).includes(d));
      if (extra.length > 0) wrong.push(`${subpath} loads ${extra.join(', ')}`);
    }
    assert.deepEqual(wrong, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lifeline/lease loads ioredis once a Redis store is made, not before', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-lazy-'));
  try {
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    const log = join(dir, 'redis.log');
    writeFileSync(log, '');
    const register = registerScript(pathToFileURL(join(dir, 'hooks.mjs')).href);
    // Nothing listens on port 1: the store is made and closed, never used.
    const script = `const { RedisLeaseStore } = await import('lifeline-keepalive/lease');
      const { readFileSync } = await import('node:fs');
      const { createRequire } = await import('node:module');
      const seen = () => readFileSync(process.env.LIFELINE_RESOLVED_LOG, 'utf8').includes('/node_modules/ioredis/') || Object.keys(createRequire(process.cwd() + '/').cache).some((f) => f.includes('/node_modules/ioredis/'));
      const before = seen();
      const store = new RedisLeaseStore({ url: 'redis://127.0.0.1:1/0', sweep: false });
      const after = seen();
      await store.close().catch(() => undefined);
      console.log(JSON.stringify({ before, after }));`;
    const out = execFileSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, LIFELINE_RESOLVED_LOG: log },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const { before, after } = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { before?: boolean; after?: boolean };
    assert.equal(before, false, 'ioredis not loaded by the import');
    assert.equal(after, true, 'ioredis loaded by making the store');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
