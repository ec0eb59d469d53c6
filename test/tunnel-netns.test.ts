// The tunnel's silent-link proof. The server runs in network namespace A, the client in B,
// joined through a bridge (test/helpers/netns.ts). Taking A's veth down makes the link silent:
// packets vanish, nobody answers, no RST, no ICMP. Both sides must notice within their bounds:
// the client's heartbeat (pingIntervalMs + missedPings x pingTimeoutMs) and the server's
// clientTimeoutMs. With the link back up the client reconnects and new streams work.
//
// The client may also learn of the dead link from TCP_USER_TIMEOUT (set to the same bound on the
// tunnel socket), so "detected" is the first of its `dead` or `disconnected` events; which one is
// printed, with the close reason each end reports (heartbeat_timeout or tcp_timeout). Skipped, with the reason printed, only where namespaces cannot be made (not root, no
// iproute2, a container that refuses them).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { createNetnsPair, netnsUnavailable, removeStaleNamespaces } from './helpers/netns.js';
import type { NetnsPair } from './helpers/netns.js';
import { skipOrFail } from './helpers/prerequisites.js';
import { TunnelProc, eventually } from './helpers/tunnel-harness.js';

const TOKEN = 'netns-token-0123456789abc';
const PING_MS = 300;
const PING_TIMEOUT_MS = 300;
const MISSED = 2;
const CLIENT_TIMEOUT_MS = 1500;
const TICK_MS = 50;
const SCHEDULING_MS = 150;
const ORIGIN_PORT = 8080;
const TUNNEL_PORT = 7000;

const ORIGIN_SCRIPT = `require('http').createServer((q, r) => r.end('ok from A')).listen(${ORIGIN_PORT}, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening' })));`;

/** curl through the client's SOCKS port, run inside namespace B. */
function curlInB(pair: NetnsPair, socksPort: number): string {
  try {
    return execFileSync('ip', ['netns', 'exec', pair.nsB, 'curl', '-s', '--max-time', '5', '--socks5-hostname', `127.0.0.1:${socksPort}`, `http://127.0.0.1:${ORIGIN_PORT}/`], { encoding: 'utf8', timeout: 8000 });
  } catch (error) {
    return `curl failed: ${(error as Error).message}`;
  }
}

test('silent link (veth down): client and server detect it within their bounds; the client reconnects when it is back', { timeout: 60_000 }, async (t) => {
  const unavailable = netnsUnavailable();
  if (unavailable !== undefined) {
    skipOrFail(t, 'tunnel-netns', unavailable);
    return;
  }
  removeStaleNamespaces();
  let pair: NetnsPair;
  try {
    pair = createNetnsPair('tn', 61);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('unavailable:')) {
      skipOrFail(t, 'tunnel-netns', error.message);
      return;
    }
    throw error;
  }
  const procs: TunnelProc[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tunnel-netns-'));
  // Children first: a namespace with live processes outlives `ip netns del`.
  t.after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    pair.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const ns of [pair.nsA, pair.nsB]) execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { timeout: 5000 });
  const pairKeys = generateKeyPair({ names: [pair.addrA] });
  writeFileSync(join(dir, 'tunnel.crt'), pairKeys.cert);
  writeFileSync(join(dir, 'tunnel.key'), pairKeys.key);
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);

  const { spawn } = await import('node:child_process');
  const origin = spawn('ip', ['netns', 'exec', pair.nsA, process.execPath, '-e', ORIGIN_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    origin.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('origin in A did not start')), 10_000);
    origin.stdout.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  const server = new TunnelProc(
    [
      'server', '--listen', `${pair.addrA}:${TUNNEL_PORT}`, '--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key'), '--token-file', join(dir, 'tokens'),
      '--allow', `127.0.0.1:${ORIGIN_PORT}`, '--ping-interval', `${PING_MS}ms`, '--client-timeout', `${CLIENT_TIMEOUT_MS}ms`,
    ],
    ['ip', 'netns', 'exec', pair.nsA],
  );
  procs.push(server);
  await server.waitFor('server listening in A', (e) => e.event === 'listening', 15_000);
  const client = new TunnelProc(
    [
      'client', '--server', `${pair.addrA}:${TUNNEL_PORT}`, '--token-file', join(dir, 'tokens'), '--fingerprint', pairKeys.fingerprint, '--socks', '127.0.0.1:1080',
      '--ping-interval', `${PING_MS}ms`, '--ping-timeout', `${PING_TIMEOUT_MS}ms`, '--missed-pings', String(MISSED),
      '--reconnect-min', '100ms', '--reconnect-max', '400ms', '--connect-timeout', '1s', '--handshake-timeout', '1s',
    ],
    ['ip', 'netns', 'exec', pair.nsB],
  );
  procs.push(client);
  await client.waitFor('client connected from B', (e) => e.event === 'connected', 15_000);
  assert.equal(curlInB(pair, 1080), 'ok from A');
  await new Promise((r) => setTimeout(r, PING_MS * 2));

  const clientMark = client.events.length;
  const serverMark = server.events.length;
  const downAt = Date.now();
  pair.setLinkA(false);
  const clientBound = PING_MS + MISSED * PING_TIMEOUT_MS;
  const clientSaw = await client.waitFor('client detects', (e) => e.event === 'dead' || e.event === 'disconnected', clientBound + 5000, clientMark);
  const serverSaw = await server.waitFor('server detects', (e) => e.event === 'sessionClose', CLIENT_TIMEOUT_MS + 5000, serverMark);
  const clientMs = clientSaw.t - downAt;
  const serverMs = serverSaw.t - downAt;
  t.diagnostic(`link down: client detected in ${clientMs} ms via '${clientSaw.event}' ${typeof clientSaw.code === 'string' ? clientSaw.code : ''} (bound ${clientBound} ms); server dropped the session in ${serverMs} ms, reason ${String(serverSaw.reason)} (clientTimeoutMs ${CLIENT_TIMEOUT_MS})`);
  assert.ok(clientMs <= clientBound + TICK_MS + SCHEDULING_MS, `client within its bound: ${clientMs} ms`);
  assert.ok(serverMs <= CLIENT_TIMEOUT_MS + TICK_MS + SCHEDULING_MS, `server within clientTimeoutMs: ${serverMs} ms`);
  // The reasons each end reports: the heartbeat (tunnel) or TCP keepalive / TCP_USER_TIMEOUT
  // (ETIMEDOUT: tcp_timeout), whichever fired first; never a FIN or an RST, which a cut link cannot carry.
  const clientEnd = await client.waitFor('client disconnected', (e) => e.event === 'disconnected', 2000, clientMark);
  t.diagnostic(`client reason ${String(clientEnd.closeReason)} (${String(clientEnd.side)}, ${String(clientEnd.layer)}); server reason ${String(serverSaw.reason)} (${String(serverSaw.side)}, ${String(serverSaw.layer)})`);
  const byHeartbeat = ['heartbeat_timeout', 'local', 'tunnel'];
  const byTcp = ['tcp_timeout', 'remote', 'tcp'];
  const clientTriple = [clientEnd.closeReason, clientEnd.side, clientEnd.layer];
  assert.ok(isDeepStrictEqual(clientTriple, byHeartbeat) || isDeepStrictEqual(clientTriple, byTcp), `client reason ${JSON.stringify(clientTriple)}`);
  if (clientSaw.event === 'dead') assert.deepEqual(clientTriple, byHeartbeat, 'a dead event is the heartbeat\'s');
  const serverTriple = [serverSaw.reason, serverSaw.side, serverSaw.layer];
  assert.ok(isDeepStrictEqual(serverTriple, byHeartbeat) || isDeepStrictEqual(serverTriple, byTcp), `server reason ${JSON.stringify(serverTriple)}`);
  // While the link is down, attempts fail (connect timeout) and the client keeps trying.
  assert.ok(await eventually(() => client.events.slice(clientMark).some((e) => e.event === 'connectFailed'), 5000), 'reconnect attempts while down');

  const upMark = client.events.length;
  const upAt = Date.now();
  pair.setLinkA(true);
  const back = await client.waitFor('client reconnects', (e) => e.event === 'connected', 10_000, upMark);
  t.diagnostic(`link up: client reconnected after ${back.t - upAt} ms`);
  assert.equal(curlInB(pair, 1080), 'ok from A', 'new streams work after the link is back');
});
