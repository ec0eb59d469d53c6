/**
 * `lifeline probe` as a user meets it: exit codes (0 measured, 1 a race or an unreachable URL,
 * 2 usage), one-line reasons for an unreachable URL (refused, DNS, TLS verification with the
 * certificate's names), the table and JSON outputs, and no progress lines when stderr is not a
 * terminal. Each case runs the real command in its own process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import { closeServer, freePort, listen } from './helpers/probe-servers.js';
import { makeTestCert, openTcpHandles } from './helpers/tls-certs.js';
import { skipFor } from './helpers/lease-prerequisites.js';
import { missing } from './helpers/probe-servers.js';

const bin = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

interface Run { status: number | null; stdout: string; stderr: string }

/** Run the CLI (async, so this process keeps serving the test servers), bounded to 20 s. */
function run(...args: string[]): Promise<Run> {
  return spawnRun(process.execPath, [bin, 'probe', ...args]);
}

function spawnRun(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const ok = (req: IncomingMessage, res: ServerResponse): void => {
  req.resume();
  req.on('end', () => res.end('ok'));
};

const lying = createServer((req, res) => {
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('Keep-Alive', 'timeout=5');
  ok(req, res);
});
lying.keepAliveTimeout = 500; // closes at 1.5 s (Node adds 1 s)
const honest = createServer(ok);
honest.keepAliveTimeout = 500;
const cert = makeTestCert();
const https = createHttpsServer(cert, ok);
let lyingUrl = '';
let honestUrl = '';
let httpsPort = 0;

before(async () => {
  lyingUrl = `http://127.0.0.1:${await listen(lying)}/`;
  honestUrl = `http://127.0.0.1:${await listen(honest)}/`;
  httpsPort = await listen(https);
});

after(async () => {
  await Promise.all([closeServer(lying), closeServer(honest), closeServer(https)]);
  assert.deepEqual(await openTcpHandles(), []);
});

test('usage errors exit 2 and name what was wrong', async () => {
  const cases: [string[], RegExp][] = [
    [[], /give the URL to probe/],
    [['http://a/', 'http://b/'], /give one URL; got 2/],
    [['ftp://example.com/'], /unsupported scheme 'ftp:'/],
    [['http://127.0.0.1/', '--behind', 'banana'], /--behind must be one of aws-alb/],
    [['http://127.0.0.1/', '--max-wait', 'soon'], /--max-wait must be a duration/],
    [['http://127.0.0.1/', '--only', 'idle,teapot'], /--only: unknown measurement 'teapot'/],
    [['http://127.0.0.1/', '--frobnicate'], /frobnicate/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(...args)));
  results.forEach((r, i) => {
    assert.equal(r.status, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i]![1]);
    assert.equal(r.stdout, '');
  });
});

test('an unreachable URL gets one line and exit 1: refused, DNS, TLS verification with the names', async () => {
  const closed = await freePort();
  const [refused, dns, tls] = await Promise.all([
    run(`http://127.0.0.1:${closed}/`),
    run('http://nonexistent.invalid/'),
    run(`https://127.0.0.1:${httpsPort}/`),
  ]);
  for (const r of [refused, dns, tls]) {
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
  }
  assert.equal(refused.stderr, `lifeline probe: connection refused by 127.0.0.1:${closed}\n`);
  assert.match(dns.stderr, /^lifeline probe: DNS: (name not found|temporary failure)/);
  assert.match(tls.stderr, /^lifeline probe: TLS: certificate refused \(DEPTH_ZERO_SELF_SIGNED_CERT\): subject CN=localhost, subjectAltName DNS:localhost, IP Address:127\.0\.0\.1/);
});

test('the lying hint behind aws-alb: table with RACE and the fix, exit 1, no progress on a non-TTY stderr', async () => {
  const r = await run(lyingUrl, '--behind', 'aws-alb', '--only', 'idle,tcp', '--max-wait', '5s');
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^lifeline probe http:\/\/127\.0\.0\.1:\d+\/ +\(max wait 5000 ms, behind aws-alb \(60\.0 s idle\)/);
  assert.match(r.stdout, /HTTP\/1\.1 idle timeout +1[45]\d\d ms, closed by FIN/);
  assert.match(r.stdout, /RACE +closes idle connections after 1[45]\d\d ms, 3[45]\d\d ms before its own hint/);
  assert.match(r.stdout, /RACE +aws-alb .* keeps an idle connection to this server up to 60 s/);
  assert.match(r.stdout, /fix: server side: raise its idle timeout above 61 s, e\.g\. 65 s: Node server\.keepAliveTimeout = 64000/);
});

test('--json: every figure with its unit in the key, null when not measured; exit 0 without a race', async () => {
  const r = await run(honestUrl, '--json', '--only', 'idle,tcp,requests', '--max-wait', '5s', '--max-requests', '50');
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout) as Record<string, unknown> & {
    idle: { idleTimeoutMs: number; keptAtLeastMs: null; closedBy: string; samples: { idleMs: number }[] };
    tcp: { connectMs: number; serverTcpKeepalive: string };
    requests: { requestsServed: number; endedBy: string };
    verdicts: { topic: string; races: boolean }[];
  };
  const tolerance = 30;
  assert.ok(Math.abs(json.idle.idleTimeoutMs - 1_500) <= tolerance, `idle ${json.idle.idleTimeoutMs} ms`);
  assert.equal(json.idle.keptAtLeastMs, null);
  assert.equal(json.idle.samples.length, 3);
  assert.equal(json.tcp.serverTcpKeepalive, 'not_visible');
  assert.equal(typeof json.tcp.connectMs, 'number');
  assert.deepEqual([json.requests.requestsServed, json.requests.endedBy], [50, 'bound']);
  assert.equal(json.header, null);
  assert.equal(json.tls, null);
  assert.equal(json.races, false);
  // Node advertises timeout=floor(500 / 1000) = 0 and closes 1.5 s later: late, so no race.
  assert.deepEqual(json.verdicts.map((v) => [v.topic, v.races]), [['hint_timeout', false], ['client_pool', false]]);
});

// `script` (util-linux) runs the command on a pseudo-terminal, as a user's shell would.
test('on a terminal: one live progress line per measurement, redrawn, then erased before the table', { skip: skipFor('probe progress on a TTY', missing('script')) }, async () => {
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} probe ${honestUrl} --only idle,header --max-wait 1200ms`;
  const r = await spawnRun('script', ['-qfec', command, '/dev/null']);
  assert.equal(r.status, 0, r.stdout);
  const out = r.stdout;
  assert.match(out, /HTTP\/1\.1 idle timeout {2}\d+ ms of 1200 ms: waiting for close of 3 idle connections \(\d\/3\)\r\n/);
  assert.match(out, /Header timeout {9}\d+ ms of 1200 ms: waiting for 408 or close; head at 1 byte \/ 100 ms\r\n/);
  const esc = String.fromCharCode(27);
  assert.ok(out.includes(`${esc}[2A\r${esc}[J  HTTP`), 'redrawn in place: two lines up, erase, draw');
  const table = out.indexOf('lifeline probe http');
  assert.ok(table > 0);
  const before = out.slice(0, table);
  assert.ok(before.endsWith(`${esc}[2A\r${esc}[J`) || before.endsWith(`${esc}[1A\r${esc}[J`), 'erased just before the table');
  assert.doesNotMatch(out.slice(table), /waiting for/);
});
