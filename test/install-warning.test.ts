/**
 * A failed native build at install: exit 0, the warning on stderr (for --foreground-scripts and
 * logs) and, because npm hides a successful install script's stdout and stderr, one line written
 * to the terminal itself. The build is made to fail with a binding.gyp naming a missing source,
 * on a scratch copy of the script; the terminal is a pty from util-linux `script`, with the
 * script's own stdout and stderr sent to /dev/null, so only what reaches the terminal is seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { skipFor } from './helpers/lease-prerequisites.js';

const SCRIPT = resolve(import.meta.dirname, '..', '..', 'scripts', 'build-native.mjs');
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-install-'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(SCRIPT, join(dir, 'scripts', 'build-native.mjs'));
  writeFileSync(join(dir, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'lifeline_tcp', sources: ['native/missing.c'] }] }));
  return dir;
}

test('a failed addon build: install exits 0, warns on stderr and writes the log', { timeout: 300_000 }, (t) => {
  const dir = scratch();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'build-native.mjs')], { cwd: dir, encoding: 'utf8', timeout: 280_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /lifeline: WARNING: the optional native TCP keepalive addon was not built/);
  assert.ok(existsSync(join(dir, 'build', 'native-build.log')));
  assert.match(readFileSync(join(dir, 'build', 'native-build.log'), 'utf8'), /missing\.o/);
});

test('a failed addon build: one line reaches the terminal even with stdout and stderr hidden', { timeout: 300_000, skip: skipFor('install warning (util-linux script)', hasScript ? undefined : 'the `script` command is not installed') }, (t) => {
  const dir = scratch();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const typescript = join(dir, 'terminal.txt');
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(dir, 'scripts', 'build-native.mjs'))} >/dev/null 2>&1`;
  const r = spawnSync('script', ['-qec', command, typescript], { cwd: dir, encoding: 'utf8', timeout: 280_000 });
  assert.equal(r.status, 0, r.stderr);
  const seen = readFileSync(typescript, 'utf8');
  const lines = seen.split(/\r?\n/).filter((l) => l.startsWith('lifeline: warning:'));
  assert.equal(lines.length, 1, seen);
  assert.match(lines[0] ?? '', /native TCP keepalive addon not built .*npx lifeline doctor/);
});
