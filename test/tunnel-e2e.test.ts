// The tunnel end to end: curl through the tunnel. Server and client run as child processes through
// the real CLI (`lifeline tunnel server|client`); curl uses the client's SOCKS5 entry point with
// --socks5-hostname (the name is resolved on the server) and its HTTP CONNECT entry point (-x -p).
// 20 parallel transfers of 20 MB each, per entry point, must arrive with their SHA-256 intact;
// each transfer has a different body (the seed), so a byte routed to the wrong stream shows.
// Also: a static -L forward, `lifeline tunnel status`, and the wss transport (in-process).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { TunnelClient } from '../src/tunnel/tunnel-client.js';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import { TunnelProc, expectedSha256, runCli, startOrigin } from './helpers/tunnel-harness.js';
import type { LogEvent } from './helpers/tunnel-harness.js';

const TOKEN = 'e2e-token-0123456789abcdef';
const MB20 = 20 * 1024 * 1024;

interface CurlResult {
  code: number | null;
  sha256: string;
  bytes: number;
  stderr: string;
}

/** Run curl, hashing its stdout as it streams. */
function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    const child = spawn('curl', ['-sS', '--max-time', '60', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, sha256: hash.digest('hex'), bytes, stderr }));
  });
}

function entryPort(listening: LogEvent, kind: string): number {
  const entries = listening.entries as { kind: string; port: number }[];
  const e = entries.find((x) => x.kind.startsWith(kind));
  assert.ok(e !== undefined, `entry ${kind} in ${JSON.stringify(entries)}`);
  return e.port;
}

test('curl --socks5-hostname and curl -x through the tunnel: 20 x 20 MB in parallel each, SHA-256 intact', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tunnel-e2e-'));
  const pair = generateKeyPair();
  writeFileSync(join(dir, 'tunnel.crt'), pair.cert);
  writeFileSync(join(dir, 'tunnel.key'), pair.key);
  writeFileSync(join(dir, 'tokens'), `# tokens\n${TOKEN}\n`);
  const origin = await startOrigin();
  const procs: TunnelProc[] = [];
  t.after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const server = new TunnelProc([
    'server', '--listen', '127.0.0.1:0', '--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key'), '--token-file', join(dir, 'tokens'),
    '--allow', `localhost:${origin.port}`, '--allow', `127.0.0.1:${origin.port}`, '--admin', '127.0.0.1:0',
  ]);
  procs.push(server);
  const sl = await server.waitFor('server listening', (e) => e.event === 'listening', 15_000);
  const client = new TunnelProc([
    'client', '--server', `127.0.0.1:${String(sl.port)}`, '--token-file', join(dir, 'tokens'), '--fingerprint', pair.fingerprint.replace(/:/g, '').toLowerCase(),
    '--socks', '127.0.0.1:0', '--http-proxy', '127.0.0.1:0', '-L', `127.0.0.1:0:127.0.0.1:${origin.port}`, '--admin', '127.0.0.1:0', '--name', 'e2e',
  ]);
  procs.push(client);
  const cl = await client.waitFor('client listening', (e) => e.event === 'listening', 15_000);
  await client.waitFor('client connected', (e) => e.event === 'connected', 15_000);
  const socksPort = entryPort(cl, 'socks');
  const httpPort = entryPort(cl, 'http-proxy');
  const forwardPort = entryPort(cl, 'forward');

  for (const via of ['socks5-hostname', 'http-connect'] as const) {
    const started = performance.now();
    const runs = Array.from({ length: 20 }, (_v, i) => {
      const seed = via === 'socks5-hostname' ? i : 100 + i;
      const args =
        via === 'socks5-hostname'
          ? ['--socks5-hostname', `127.0.0.1:${socksPort}`, `http://localhost:${origin.port}/bytes/${MB20}/${seed}`]
          : ['-x', `http://127.0.0.1:${httpPort}`, '-p', `http://127.0.0.1:${origin.port}/bytes/${MB20}/${seed}`];
      return curl(args).then((r) => ({ ...r, seed }));
    });
    const results = await Promise.all(runs);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${via}: 20 x 20 MB in ${seconds.toFixed(2)} s (${((20 * MB20) / 1e6 / seconds).toFixed(0)} MB/s)`);
    for (const r of results) {
      assert.equal(r.code, 0, `curl exit ${String(r.code)} via ${via}: ${r.stderr}`);
      assert.equal(r.bytes, MB20);
      assert.equal(r.sha256, expectedSha256(MB20, r.seed), `SHA-256 of transfer ${r.seed} via ${via}`);
    }
  }

  const fwd = await curl([`http://127.0.0.1:${forwardPort}/bytes/1000000/7`]);
  assert.equal(fwd.code, 0, fwd.stderr);
  assert.equal(fwd.sha256, expectedSha256(1_000_000, 7), 'static -L forward');

  // Status from the server's admin endpoint: one session, bytes counted, named as the client said.
  const json = await (await fetch(`http://127.0.0.1:${String(sl.admin)}/status`)).json() as { sessions: { name: string; bytesToClient: number; streams: number }[] };
  assert.equal(json.sessions.length, 1);
  assert.equal(json.sessions[0]?.name, 'e2e');
  assert.ok((json.sessions[0]?.bytesToClient ?? 0) >= 40 * MB20, `bytes counted: ${json.sessions[0]?.bytesToClient}`);
  const metrics = await (await fetch(`http://127.0.0.1:${String(sl.admin)}/metrics`)).text();
  assert.match(metrics, /^lifeline_tunnel_sessions 1$/m);
  assert.match(metrics, /^# TYPE lifeline_tunnel_bytes_total counter$/m);
  const clientAdmin = entryPort(cl, 'admin');
  const cm = await (await fetch(`http://127.0.0.1:${clientAdmin}/metrics`)).text();
  assert.match(cm, /^lifeline_tunnel_client_connected 1$/m);
});

test('lifeline tunnel status prints the session table', { timeout: 30_000 }, async (t) => {
  const pair = generateKeyPair();
  const origin = await startOrigin();
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [TOKEN], allow: [`127.0.0.1:${origin.port}`] });
  const { port } = await server.listen();
  const { AdminServer } = await import('../src/tunnel/admin-server.js');
  const admin = await AdminServer.listen('127.0.0.1', 0, { status: () => server.status(), metrics: () => server.metrics() });
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: pair.fingerprint, name: 'table' });
  t.after(async () => {
    await client.close();
    await admin.close();
    await server.close();
    await origin.close();
  });
  client.start();
  await client.waitConnected(10_000);
  const r = await runCli(['status', '--admin', `127.0.0.1:${admin.port}`]);
  assert.equal(r.status, 0, r.stderr);
  const text = r.stdout;
  t.diagnostic(text);
  assert.match(text, /SESSION\s+NAME\s+REMOTE\s+STATE\s+RTT ms\s+STREAMS\s+BYTES IN\s+BYTES OUT\s+RECONNECTS/);
  assert.match(text, /table/);
  assert.match(text, /1 session\(s\)/);
});

test('wss transport: 4 parallel SOCKS transfers of 5 MB through WebSocket over TLS', { timeout: 60_000 }, async (t) => {
  const pair = generateKeyPair();
  const origin = await startOrigin();
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [TOKEN], allow: [`127.0.0.1:${origin.port}`], transport: 'wss' });
  const { port } = await server.listen();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: pair.fingerprint, transport: 'wss' });
  t.after(async () => {
    await client.close();
    await server.close();
    await origin.close();
  });
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  await client.waitConnected(10_000);
  const n = 5 * 1024 * 1024;
  const results = await Promise.all(
    [0, 1, 2, 3].map((seed) => curl(['--socks5-hostname', `127.0.0.1:${socks.address.port}`, `http://127.0.0.1:${origin.port}/bytes/${n}/${seed}`]).then((r) => ({ ...r, seed }))),
  );
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sha256, expectedSha256(n, r.seed));
  }
  assert.equal(server.status().sessions[0]?.transport, 'wss');
});
