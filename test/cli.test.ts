import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}bin/lifeline.js`;
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('lifeline --version prints the package version', () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
  const r = run('--version');
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('lifeline --help and no arguments print the usage', () => {
  for (const args of [['--help'], ['-h'], []]) {
    const r = run(...args);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^lifeline: keep connections/);
    assert.match(r.stdout, /--version/);
  }
});

test('an unknown option or command is a usage error (exit 2) naming it', () => {
  const r = run('--frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option '--frobnicate'/);
  const c = run('frobnicate');
  assert.equal(c.status, 2);
  assert.match(c.stderr, /unknown command 'frobnicate'/);
});
