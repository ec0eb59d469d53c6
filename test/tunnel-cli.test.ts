/**
 * `lifeline tunnel` as a user meets it (the real bin, through main.ts where help is concerned):
 * - each sub-command has its own --help;
 * - keygen refuses to overwrite a key pair without --force;
 * - the config file uses the library's names, reports every problem at once at file:line:col with
 *   "did you mean", names a bad value by its key (not a flag), and --check validates the shipped
 *   examples/tunnel.yaml for both ends;
 * - a short token is named by the flag or key it came from, never as a TunnelServer option;
 * - a client with a wrong token, a wrong fingerprint or a certificate that does not verify gives
 *   up after maxFatalRetries retries with exit code 3 and a clear message; --retry-forever keeps
 *   trying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import { eventually, root, runCli, TunnelProc } from './helpers/tunnel-harness.js';

const BIN = join(root, 'bin', 'lifeline.js');
const TOKEN = 'tunnel-cli-token-0123456789';

function lifeline(args: string[], timeoutMs = 30_000): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: performance.now() - started });
    });
  });
}

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tunnel-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('each tunnel sub-command prints its own help', async () => {
  const help: Record<string, string> = {};
  for (const sub of ['server', 'client', 'keygen', 'status']) {
    const r = await lifeline(['tunnel', sub, '--help']);
    assert.equal(r.status, 0, r.stderr);
    help[sub] = r.stdout;
    assert.match(r.stdout, new RegExp(`^lifeline tunnel ${sub}: `));
  }
  assert.match(help.server ?? '', /--allow-any/);
  assert.doesNotMatch(help.server ?? '', /--fingerprint/);
  assert.match(help.client ?? '', /--fingerprint SHA256 .*\[fingerprint\]/);
  assert.match(help.client ?? '', /--retry-forever/);
  assert.match(help.client ?? '', /--no-pipeline-opens\s[^\n]*\n?[^\n]*\[pipelineOpens\]/);
  assert.doesNotMatch(help.client ?? '', /--allow-any/);
  assert.match(help.keygen ?? '', /--force/);
  assert.match(help.status ?? '', /--metrics/);
  assert.equal(new Set(Object.values(help)).size, 4, 'four different texts');
  const top = await lifeline(['tunnel', '--help']);
  assert.match(top.stdout, /lifeline tunnel <server\|client\|keygen\|status> --help/);
});

test('keygen refuses to overwrite a key pair without --force, and replaces it with --force', async (t) => {
  const dir = scratch(t);
  const first = await lifeline(['tunnel', 'keygen', '--out', dir]);
  assert.equal(first.status, 0, first.stderr);
  const key = readFileSync(join(dir, 'tunnel.key'), 'utf8');
  const again = await lifeline(['tunnel', 'keygen', '--out', dir]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exist.*--force/);
  assert.equal(readFileSync(join(dir, 'tunnel.key'), 'utf8'), key, 'the pinned key is untouched');
  const forced = await lifeline(['tunnel', 'keygen', '--out', dir, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.notEqual(readFileSync(join(dir, 'tunnel.key'), 'utf8'), key);
});

test('tunnel config: every problem at once, at file:line:col, with did-you-mean for keys and values', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'tunnel.yaml');
  writeFileSync(file, 'server:\n  listen: 127.0.0.1:0\n  pingInterval: 5000\n  transport: wws\n  clientTimeoutMs: 75s\n  allow: ["x:1"]\n');
  const r = await lifeline(['tunnel', 'server', '--config', file]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /3 problems/);
  assert.match(r.stderr, /tunnel\.yaml:3:3: server\.pingInterval: unknown key "pingInterval"; did you mean "pingIntervalMs"\?/);
  assert.match(r.stderr, /tunnel\.yaml:4:3: server\.transport: expected one of "tls", "wss", found "wws" \(a string\); did you mean "wss"\?/);
  assert.match(r.stderr, /tunnel\.yaml:5:3: server\.clientTimeoutMs: .*found "75s" .*write 75000/);
  assert.match(r.stderr, /Run 'lifeline tunnel server --help'/);
});

test('tunnel config: a bad value is named by its key and line, not by a flag; flags by their flag', async (t) => {
  const dir = scratch(t);
  const pair = generateKeyPair();
  writeFileSync(join(dir, 'tunnel.crt'), pair.cert);
  writeFileSync(join(dir, 'tunnel.key'), pair.key);
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  const file = join(dir, 'tunnel.yaml');
  writeFileSync(file, 'server:\n  listen: 127.0.0.1:0\n  certFile: tunnel.crt\n  keyFile: tunnel.key\n  tokenFile: tokens\n  allow: ["x:1"]\n  pingIntervalMs: 5000\n  clientTimeoutMs: 4000\n');
  const fromFile = await lifeline(['tunnel', 'server', '--config', file, '--check']);
  assert.equal(fromFile.status, 2);
  assert.match(fromFile.stderr, /tunnel\.yaml:8:3: server\.clientTimeoutMs: clientTimeoutMs must be an integer from 5001/);
  assert.doesNotMatch(fromFile.stderr, /--client-timeout|--ping-interval|TunnelServer/);
  const fromFlag = await lifeline(['tunnel', 'server', '--config', file, '--check', '--client-timeout', '3s']);
  assert.equal(fromFlag.status, 2);
  assert.match(fromFlag.stderr, /--client-timeout: clientTimeoutMs must be an integer from 5001 .* got 3000/);
  writeFileSync(file, readFileSync(file, 'utf8').replace('clientTimeoutMs: 4000', 'clientTimeoutMs: 15000'));
  const ok = await lifeline(['tunnel', 'server', '--config', file, '--check']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'tunnel server: ok\n');
});

test('a short token is named by its flag, file line or config key, never as a TunnelServer option', async (t) => {
  const dir = scratch(t);
  const pair = generateKeyPair();
  writeFileSync(join(dir, 'c.crt'), pair.cert);
  writeFileSync(join(dir, 'c.key'), pair.key);
  writeFileSync(join(dir, 'tokens'), `# comment\n${TOKEN}\nshort\n`);
  const base = ['tunnel', 'server', '--listen', '127.0.0.1:0', '--cert', join(dir, 'c.crt'), '--key', join(dir, 'c.key'), '--allow', 'x:1', '--check'];
  const flag = await lifeline([...base, '--token', 'abc']);
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /--token: a token must be at least 16 characters .*this one has 3/);
  const tokenFile = await lifeline([...base, '--token-file', join(dir, 'tokens')]);
  assert.equal(tokenFile.status, 2);
  assert.match(tokenFile.stderr, /--token-file: .*tokens line 3: a token must be at least 16 characters/);
  writeFileSync(join(dir, 't.yaml'), 'server:\n  tokens:\n    - short-token\n');
  const key = await lifeline([...base, '--config', join(dir, 't.yaml')]);
  assert.equal(key.status, 2);
  assert.match(key.stderr, /t\.yaml:2:3: server\.tokens: a token must be at least 16 characters/);
  for (const r of [flag, tokenFile, key]) assert.doesNotMatch(r.stderr, /TunnelServer/);
});

test('--check validates the shipped examples/tunnel.yaml for both ends', async () => {
  for (const side of ['server', 'client']) {
    const r = await lifeline(['tunnel', side, '--config', join(root, 'examples', 'tunnel.yaml'), '--check']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `tunnel ${side}: ok\n`);
  }
});

async function serverFixture(t: { after: (fn: () => Promise<void>) => void }): Promise<{ port: number; pair: ReturnType<typeof generateKeyPair>; sessionsRefused: () => number }> {
  const pair = generateKeyPair();
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [TOKEN], allow: ['127.0.0.1:9'] });
  let refused = 0;
  server.on('sessionClose', (_s, reason) => {
    if (reason === 'auth_failed') refused += 1;
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { port, pair, sessionsRefused: () => refused };
}

test('a client with a wrong token gives up after maxFatalRetries retries: exit 3, a clear message', { timeout: 60_000 }, async (t) => {
  const { port, pair, sessionsRefused } = await serverFixture(t);
  const args = ['client', '--server', `127.0.0.1:${port}`, '--token', 'wrong-token-0123456789', '--fingerprint', pair.fingerprint, '--socks', '127.0.0.1:0', '--reconnect-min', '20ms', '--reconnect-max', '50ms', '--max-fatal-retries', '2'];
  const r = await runCli(args, 30_000);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /ERR_TUNNEL_AUTH: .*check the token/);
  assert.equal((r.stdout.match(/connect attempt \d+ failed: ERR_TUNNEL_AUTH/g) ?? []).length, 3, r.stdout);
  assert.match(r.stdout, /giving up after 3 fatal failure\(s\) in a row: ERR_TUNNEL_AUTH/);
  assert.ok(await eventually(() => sessionsRefused() === 3, 2000), `the server refused ${sessionsRefused()} sessions`);
});

test('a client whose pin does not match, or whose CA does not verify the server, exits 3', { timeout: 60_000 }, async (t) => {
  const { port } = await serverFixture(t);
  const other = generateKeyPair();
  const dir = scratch(t);
  writeFileSync(join(dir, 'other-ca.pem'), other.cert);
  const base = ['client', '--server', `127.0.0.1:${port}`, '--token', TOKEN, '--socks', '127.0.0.1:0', '--reconnect-min', '20ms', '--reconnect-max', '50ms'];
  const pin = await runCli([...base, '--fingerprint', other.fingerprint, '--max-fatal-retries', '0'], 30_000);
  assert.equal(pin.status, 3, pin.stderr);
  assert.match(pin.stderr, /ERR_TUNNEL_FINGERPRINT: .*check --fingerprint/);
  const ca = await runCli([...base, '--ca', join(dir, 'other-ca.pem'), '--servername', 'localhost', '--max-fatal-retries', '1'], 30_000);
  assert.equal(ca.status, 3, ca.stderr);
  assert.match(ca.stderr, /lifeline tunnel client: [A-Z_]+: .*check --ca/);
  assert.equal((ca.stdout.match(/connect attempt \d+ failed/g) ?? []).length, 2, ca.stdout);
});

test('--retry-forever keeps a refused client trying past the default bound', { timeout: 60_000 }, async (t) => {
  const { port, pair } = await serverFixture(t);
  const proc = new TunnelProc(['client', '--server', `127.0.0.1:${port}`, '--token', 'wrong-token-0123456789', '--fingerprint', pair.fingerprint, '--socks', '127.0.0.1:0', '--reconnect-min', '10ms', '--reconnect-max', '20ms', '--retry-forever']);
  t.after(() => proc.stop());
  await proc.waitFor('six refusals', () => proc.events.filter((e) => e.event === 'connectFailed').length >= 6, 30_000);
  assert.equal(proc.proc.exitCode, null, 'still running');
  assert.equal(proc.events.some((e) => e.event === 'fatal'), false);
});
