/**
 * `npm start` rebuilds only when a source is newer than dist/ (scripts/start.mjs), so an
 * unchanged checkout starts in well under 2 s. Run on a scratch copy whose "build" script only
 * leaves a mark, so the test never rebuilds this checkout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '..', '..', 'scripts', 'start.mjs');

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-start-'));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'dist', 'src', 'cli'), { recursive: true });
  copyFileSync(SCRIPT, join(dir, 'scripts', 'start.mjs'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, scripts: { build: 'node -e "require(\'fs\').writeFileSync(\'built\', \'\')"' } }));
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  writeFileSync(join(dir, 'src', 'a.ts'), 'export {};');
  return dir;
}

function run(dir: string): { status: number | null; built: boolean } {
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'start.mjs')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  const built = existsSync(join(dir, 'built'));
  rmSync(join(dir, 'built'), { force: true });
  return { status: r.status, built };
}

test('start.mjs builds when dist is missing or older than src, and not when it is up to date', () => {
  const dir = scratch();
  try {
    assert.deepEqual(run(dir), { status: 0, built: true }, 'no dist yet: build');
    const old = new Date(Date.now() - 60_000);
    for (const f of ['src/a.ts', 'tsconfig.json', 'package.json']) utimesSync(join(dir, f), old, old);
    writeFileSync(join(dir, 'dist', 'src', 'cli', 'main.js'), '');
    writeFileSync(join(dir, 'dist', 'src', 'index.js'), '');
    const started = process.hrtime.bigint();
    assert.deepEqual(run(dir), { status: 0, built: false }, 'dist newer than every source: no build');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 2000, `the up-to-date check took ${ms} ms`);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(dir, 'src', 'a.ts'), later, later);
    assert.deepEqual(run(dir), { status: 0, built: true }, 'a source newer than dist: build');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
