/**
 * `keepAwake` and `lifeline awake` on Linux against a real dbus-daemon on a private bus, with a
 * stand-in logind whose Inhibit returns a pipe descriptor and reports when the last copy of it is
 * closed. The inhibitor must be held while CMD runs and released after it, however CMD ends
 * (exit code, crash, killed), when lifeline is signalled, and even when lifeline itself is
 * killed with SIGKILL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { keepAwake } from '../src/awake/keep-awake.js';
import { AwakeUnavailableError } from '../src/awake/awake-errors.js';
import { PrivateBus, privateBusUnavailable } from './helpers/dbus-bus.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const unavailable = process.platform !== 'linux' ? 'Linux only' : privateBusUnavailable();
const skip = skipFor('awake-linux', unavailable);
const cli = fileURLToPath(new URL('./helpers/dbus-awake-cli.js', import.meta.url));
let bus: PrivateBus;
let tmp: string;

before(async () => {
  if (skip !== false) return;
  bus = await PrivateBus.start();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeline-awake-'));
});
after(async () => {
  if (skip !== false) return;
  await bus.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function lifeline(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [cli, 'awake', ...args], { env: { ...process.env, LIFELINE_SYSTEM_BUS_ADDRESS: bus.address, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

/** A node one-liner as CMD. */
const nodeCmd = (code: string): string[] => ['--', process.execPath, '-e', code];
const waitFile = (file: string): string => `const fs=require('fs');const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(file)})){clearInterval(t);FINISH}},20);`;

describe('awake on Linux (private D-Bus)', { skip }, () => {
  test('keepAwake holds logind idle:sleep while held and lets go on release', async () => {
    const handle = await keepAwake({ reason: 'lib-basic', systemBusAddress: bus.address });
    assert.deepEqual(handle.mechanisms, ['logind idle:sleep (systemd-inhibit)']);
    const inhibit = await bus.waitFor((e) => e.event === 'inhibit' && e.why === 'lib-basic', 2000);
    assert.equal(inhibit.what, 'idle:sleep');
    assert.equal(inhibit.who, 'lifeline');
    assert.equal(inhibit.mode, 'block');
    await sleep(300);
    assert.equal(bus.inhibitor('lib-basic').released, undefined, 'descriptor still held');
    await handle.release();
    await bus.waitReleased('lib-basic', 2000);
  });

  test('--display adds org.freedesktop.ScreenSaver.Inhibit, released with UnInhibit', async () => {
    const handle = await keepAwake({ reason: 'lib-display', display: true, systemBusAddress: bus.address, sessionBusAddress: bus.address });
    assert.equal(handle.mechanisms.length, 2, handle.warnings.join('; '));
    const ss = await bus.waitFor((e) => e.event === 'ss-inhibit' && e.reason === 'lib-display', 2000);
    await handle.release();
    await bus.waitReleased('lib-display', 2000);
    const gone = await bus.waitFor((e) => e.event === 'ss-released' && e.cookie === ss.cookie, 2000);
    assert.equal(gone.how, 'UnInhibit');
  });

  test('lifeline awake -- CMD holds the inhibitor while CMD runs and exits with its code', async () => {
    const go = path.join(tmp, 'go-1');
    const run = lifeline(['--reason', 'cli-code', ...nodeCmd(waitFile(go).replace('FINISH', 'process.exit(7)'))]);
    await bus.waitFor((e) => e.event === 'inhibit' && e.why === 'cli-code', 5000);
    await sleep(300);
    assert.equal(bus.inhibitor('cli-code').released, undefined, 'held while CMD runs');
    writeFileSync(go, '');
    const result = await run.done;
    assert.equal(result.code, 7);
    await bus.waitReleased('cli-code', 2000);
  });

  test('released when CMD crashes (abort) or throws', async () => {
    const crash = await lifeline(['--reason', 'cli-abort', ...nodeCmd('setTimeout(() => process.abort(), 200)')]).done;
    assert.equal(crash.code, 128 + 6, crash.stderr);
    await bus.waitReleased('cli-abort', 2000);
    const thrown = await lifeline(['--reason', 'cli-throw', ...nodeCmd("setTimeout(() => { throw new Error('boom') }, 200)")]).done;
    assert.equal(thrown.code, 1);
    await bus.waitReleased('cli-throw', 2000);
  });

  test('released when CMD is killed from outside (exit 128 + 9)', async () => {
    const pidFile = path.join(tmp, 'pid-kill');
    const run = lifeline(['--reason', 'cli-killed', ...nodeCmd(`require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`)]);
    await bus.waitFor((e) => e.event === 'inhibit' && e.why === 'cli-killed', 5000);
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8') === '') await sleep(20);
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const result = await run.done;
    assert.equal(result.code, 137);
    await bus.waitReleased('cli-killed', 2000);
  });

  test('SIGTERM to lifeline is forwarded to CMD; its exit code is lifeline’s', async () => {
    const ready = path.join(tmp, 'ready-term');
    const run = lifeline(['--reason', 'cli-sigterm', ...nodeCmd(`process.on('SIGTERM', () => process.exit(42)); require('fs').writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000)`)]);
    await bus.waitFor((e) => e.event === 'inhibit' && e.why === 'cli-sigterm', 5000);
    while (!existsSync(ready)) await sleep(20);
    run.child.kill('SIGTERM');
    const result = await run.done;
    assert.equal(result.code, 42);
    await bus.waitReleased('cli-sigterm', 2000);
  });

  test('lifeline itself killed with SIGKILL: the inhibitor still goes', async () => {
    const run = lifeline(['--reason', 'cli-sigkill', ...nodeCmd('setTimeout(() => {}, 20000)')]);
    await bus.waitFor((e) => e.event === 'inhibit' && e.why === 'cli-sigkill', 5000);
    run.child.kill('SIGKILL');
    await run.done;
    const released = await bus.waitReleased('cli-sigkill', 3000);
    assert.ok(released);
  });

  test('--pid N holds while N lives; --for holds for the time given', async () => {
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    const run = lifeline(['--reason', 'cli-pid', '--pid', String(sleeper.pid)]);
    await bus.waitFor((e) => e.event === 'inhibit' && e.why === 'cli-pid', 5000);
    await sleep(300);
    assert.equal(bus.inhibitor('cli-pid').released, undefined);
    const killedAt = performance.now();
    sleeper.kill('SIGKILL');
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(performance.now() - killedAt < 2500, 'noticed within the 1 s poll');
    await bus.waitReleased('cli-pid', 2000);

    const t0 = performance.now();
    const timed = await lifeline(['--reason', 'cli-for', '--for', '1s']).done;
    assert.equal(timed.code, 0);
    assert.ok(performance.now() - t0 >= 1000);
    await bus.waitReleased('cli-for', 2000);
  });

  test('no logind reachable: a clear message naming what was tried; CMD runs anyway unless --strict', async () => {
    const env = { LIFELINE_SYSTEM_BUS_ADDRESS: `unix:path=${path.join(tmp, 'no-such-bus')}` };
    const marker = path.join(tmp, 'ran');
    const loose = await lifeline(nodeCmd(`require('fs').writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3)`), env).done;
    assert.equal(loose.code, 3, 'CMD ran and its code came back');
    assert.ok(existsSync(marker));
    assert.match(loose.stderr, /no sleep inhibitor is available on linux/);
    assert.match(loose.stderr, /logind Inhibit via systemd-inhibit: .*systemd-inhibit exited with code 1/);
    assert.match(loose.stderr, /continuing without/);

    const strictMarker = path.join(tmp, 'ran-strict');
    const strict = await lifeline(['--strict', ...nodeCmd(`require('fs').writeFileSync(${JSON.stringify(strictMarker)}, '')`)], env).done;
    assert.equal(strict.code, 1);
    assert.ok(!existsSync(strictMarker), 'CMD did not run');
    assert.match(strict.stderr, /no sleep inhibitor is available/);

    const timed = await lifeline(['--for', '5s'], env).done;
    assert.equal(timed.code, 1, 'nothing to run, nothing held: a failure');
  });

  test('logind refusing the inhibitor is reported with its error', async () => {
    const refusing = await PrivateBus.start({ refuse: true });
    try {
      await assert.rejects(keepAwake({ systemBusAddress: refusing.address }), (error: unknown) => {
        assert.ok(error instanceof AwakeUnavailableError);
        assert.equal(error.code, 'ERR_AWAKE_UNAVAILABLE');
        assert.match(error.message, /logind Inhibit via systemd-inhibit: .*Failed to inhibit: Access denied/);
        return true;
      });
    } finally {
      await refusing.stop();
    }
  });
});
