/**
 * The macOS and Windows mechanisms cannot run here, so their command lines are checked as built,
 * along with the CLI's usage errors and the error for a platform without a mechanism.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caffeinateCommand } from '../src/awake/macos-inhibitor.js';
import { executionStateFlags, executionStateScript, powershellCommand } from '../src/awake/windows-inhibitor.js';
import { systemdInhibitCommand } from '../src/awake/linux-inhibitors.js';
import { keepAwake } from '../src/awake/keep-awake.js';
import { AwakeUnavailableError } from '../src/awake/awake-errors.js';
import { awakeCommand } from '../src/cli/commands/awake.js';
import { main } from '../src/cli/main.js';

test('macOS: caffeinate -i [-d] -w <pid>', () => {
  assert.deepEqual(caffeinateCommand({ display: false, pid: 4242 }), { command: 'caffeinate', args: ['-i', '-w', '4242'] });
  assert.deepEqual(caffeinateCommand({ display: true, pid: 7 }), { command: 'caffeinate', args: ['-i', '-d', '-w', '7'] });
});

test('Windows: SetThreadExecutionState through PowerShell -EncodedCommand', () => {
  assert.equal(executionStateFlags(false), 0x80000001);
  assert.equal(executionStateFlags(true), 0x80000003);
  for (const display of [false, true]) {
    const { command, args } = powershellCommand(display);
    assert.equal(command, 'powershell.exe');
    assert.deepEqual(args.slice(0, -1), ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand']);
    const script = Buffer.from(args.at(-1) as string, 'base64').toString('utf16le');
    assert.equal(script, executionStateScript(display));
    assert.match(script, /DllImport\("kernel32\.dll"\)\] public static extern uint SetThreadExecutionState\(uint esFlags\)/);
    assert.ok(script.includes(`SetThreadExecutionState([uint32]${display ? 2147483651 : 2147483649})`));
    assert.match(script, /lifeline-inhibit-ready/);
    assert.match(script, /\[Console\]::In\.ReadToEnd\(\)/, 'holds until our pipe closes');
    assert.ok(script.trimEnd().endsWith('SetThreadExecutionState([uint32]2147483648)'), 'clears the state before exiting');
  }
});

test('Linux: systemd-inhibit holds idle:sleep in block mode until EOF on our pipe', () => {
  const { command, args, env } = systemdInhibitCommand({ who: 'lifeline', why: 'backup', what: 'idle:sleep', systemBusAddress: 'unix:path=/tmp/x', systemdInhibit: '/usr/bin/systemd-inhibit' });
  assert.equal(command, '/usr/bin/systemd-inhibit');
  assert.deepEqual(args, ['--what=idle:sleep', '--who=lifeline', '--why=backup', '--mode=block', 'sh', '-c', 'echo lifeline-inhibit-ready; exec cat >/dev/null']);
  assert.equal(env.DBUS_SYSTEM_BUS_ADDRESS, 'unix:path=/tmp/x');
});

test('a platform without a mechanism gets ERR_AWAKE_UNAVAILABLE naming it', async () => {
  await assert.rejects(keepAwake({ platform: 'aix' }), (error: unknown) => {
    assert.ok(error instanceof AwakeUnavailableError);
    assert.equal(error.code, 'ERR_AWAKE_UNAVAILABLE');
    assert.match(error.message, /no sleep inhibitor is known for platform 'aix'/);
    return true;
  });
});

test('lifeline awake usage errors exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['--for', '1s', '--pid', '1'], /one of -- CMD, --for or --pid/],
    [['--'], /no command after '--'/],
    [['sleep', '5'], /put the command after '--'/],
    [['--pid', 'abc'], /--pid must be a process id/],
    [['--for', 'soon'], /--for must be a duration/],
    [['--frob'], /Unknown option '--frob'/],
  ];
  for (const [args, message] of cases) {
    let err = '';
    const code = await main(['awake', ...args], { out: () => {}, err: (t) => (err += t) }, [awakeCommand]);
    assert.equal(code, 2, args.join(' '));
    assert.match(err, message);
  }
});
