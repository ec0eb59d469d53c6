/**
 * `lifeline doctor`: says what this machine gives lifeline and why not.
 * - Here (addon built): the addon is loaded and every TCP option is set and read back on a real
 *   socket, as the transport tests' own readback shows.
 * - A copy of dist/ with no build/: the addon is reported missing ("not built"), the TCP options
 *   as fallbacks, and the build log is named when there is one.
 * - Keep-awake: logind needs systemd-inhibit on PATH and a system bus; each missing piece is named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { awakeCapabilities } from '../src/awake/capabilities.js';
import { loadNativeTcp } from '../src/transport/native.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lifeline.js');

interface Report {
  nativeAddon: { available: boolean; detail: string; buildLog: string | null };
  tcpKeepIdle: { available: boolean; detail: string };
  tcpUserTimeout: { available: boolean; detail: string };
  userReadBuffer: { available: boolean };
  awake: { mechanism: string; available: boolean; detail: string }[];
  node: string;
}

test('doctor --json on this machine: the addon and what it can set, read back from a socket', () => {
  const r = spawnSync(process.execPath, [BIN, 'doctor', '--json'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.node, process.version);
  const native = loadNativeTcp() !== undefined;
  assert.equal(report.nativeAddon.available, native);
  if (process.platform === 'linux' && native) {
    assert.equal(report.tcpKeepIdle.available, true, report.tcpKeepIdle.detail);
    assert.equal(report.tcpUserTimeout.available, true, report.tcpUserTimeout.detail);
  }
  assert.ok(report.awake.length >= 1);
  const text = spawnSync(process.execPath, [BIN, 'doctor'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(text.status, 0);
  for (const row of ['native TCP addon', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT', 'TCP_USER_TIMEOUT', 'user read buffer', 'awake: ']) assert.ok(text.stdout.includes(row), `${row} in:\n${text.stdout}`);
});

test('doctor without the addon: says it is not built, what falls back, and where the build log is', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-doctor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
  const probe = `import(${JSON.stringify(join(dir, 'dist', 'src', 'transport', 'capabilities.js'))}).then(async (m) => console.log(JSON.stringify(await m.transportCapabilities())))`;
  const run = (): Report => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Report;
  };
  const bare = run();
  assert.equal(bare.nativeAddon.available, false);
  assert.match(bare.nativeAddon.detail, /not built .*reinstall with a C compiler/);
  assert.equal(bare.nativeAddon.buildLog, null);
  assert.equal(bare.tcpKeepIdle.available, false);
  assert.match(bare.tcpKeepIdle.detail, /only the idle time, through socket\.setKeepAlive\(\)/);
  assert.match(bare.tcpUserTimeout.detail, /native addon missing/);
  mkdirSync(join(dir, 'build'));
  writeFileSync(join(dir, 'build', 'native-build.log'), 'gyp ERR! find Python\n');
  const logged = run();
  assert.equal(logged.nativeAddon.buildLog, join(dir, 'build', 'native-build.log'));
  assert.ok(logged.nativeAddon.detail.includes(join(dir, 'build', 'native-build.log')), logged.nativeAddon.detail);
});

test('awake capabilities name each missing piece: systemd-inhibit, the system bus, the session bus', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-doctor-path-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const none = awakeCapabilities({ PATH: dir }, 'linux');
  assert.equal(none[0]?.available, false);
  assert.match(none[0]?.detail ?? '', /systemd-inhibit is not on PATH/);
  assert.match(none[1]?.detail ?? '', /DBUS_SESSION_BUS_ADDRESS is unset/);
  writeFileSync(join(dir, 'systemd-inhibit'), '#!/bin/sh\n');
  chmodSync(join(dir, 'systemd-inhibit'), 0o755);
  const withBus = awakeCapabilities({ PATH: dir, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/tmp/x', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/y' }, 'linux');
  assert.deepEqual(withBus.map((c) => c.available), [true, true]);
  assert.match(withBus[0]?.detail ?? '', /bus unix:path=\/tmp\/x/);
  assert.equal(awakeCapabilities({ PATH: dir }, 'darwin')[0]?.available, false);
});
