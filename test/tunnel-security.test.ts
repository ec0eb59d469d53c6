// The tunnel's security proof.
// - A wrong token, or a server certificate whose fingerprint is not the pinned one, is refused
//   before any stream opens (no OPEN reaches the server; the destination sees no connection).
// - A destination off the allowlist gets SOCKS5 reply 0x02.
// - 10,000 random and mutated frames sent to the server close only the offending sessions, each
//   with a typed error (GOAWAY carrying its code), while a real client keeps working throughout,
//   and the server's fds return to their baseline.
// Plus: ping limiting (NOTICE, excess unanswered), the limits on clients, streams and idle streams.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeOpen } from '../src/tunnel/address.js';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { FrameType, encodeFrame, encodeGoaway, encodePing, encodeU32 } from '../src/tunnel/frame.js';
import { TunnelProtocolError } from '../src/tunnel/errors.js';
import type { ServerCloseReason } from '../src/tunnel/server-session.js';
import { TunnelClient } from '../src/tunnel/tunnel-client.js';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import type { TunnelServerOptions } from '../src/tunnel/tunnel-server.js';
import { echoRoundTrip, eventually, socksConnect, startEcho } from './helpers/tunnel-harness.js';
import { RawSession } from './helpers/tunnel-raw.js';
import { seeded } from './helpers/seeded-random.js';

const TOKEN = 'security-token-0123456789';
const pair = generateKeyPair();
const other = generateKeyPair();

/** The server's resolver in these tests: two names on loopback, one elsewhere, others unknown. */
function fakeDns(host: string): Promise<string> {
  const table: Record<string, string> = { 'echo.test': '127.0.0.1', localhost: '127.0.0.1', 'evil.example': '10.9.9.9' };
  const address = table[host];
  return address === undefined ? Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })) : Promise.resolve(address);
}

async function fixture(extra: Partial<TunnelServerOptions> = {}) {
  const echo = await startEcho();
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [TOKEN], allow: [`127.0.0.1:${echo.port}`, 'echo.test:*'], lookup: fakeDns, ...extra });
  const { port } = await server.listen();
  const closes: { reason: ServerCloseReason; error: Error | undefined; side: string; layer: string }[] = [];
  server.on('sessionClose', (_s, reason, error, info) => closes.push({ reason, error, side: info.side, layer: info.layer }));
  return { echo, server, port, closes };
}

test('a wrong token is refused before any stream opens', { timeout: 30_000 }, async (t) => {
  const { echo, server, port, closes } = await fixture();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: 'not-the-token-0123456789', fingerprint: pair.fingerprint, openTimeoutMs: 300, reconnectInitialMs: 50, reconnectMaxMs: 100 });
  t.after(async () => {
    await client.close();
    await server.close();
    await echo.close();
  });
  const failures: string[] = [];
  client.on('connectFailed', (e) => failures.push(e.code));
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  const { reply, socket } = await socksConnect(socks.address.port, '127.0.0.1', echo.port);
  socket.destroy();
  assert.ok(await eventually(() => failures.length >= 2, 5000));
  t.diagnostic(`client failures: ${failures.slice(0, 3).join(', ')}; SOCKS reply ${reply}`);
  assert.equal(failures[0], 'ERR_TUNNEL_AUTH');
  assert.equal(reply, 1, 'the local connection is refused (general failure)');
  assert.equal(client.state === 'connected', false);
  assert.ok(closes.length >= 1 && closes.every((c) => c.reason === 'auth_failed'), JSON.stringify(closes.map((c) => c.reason)));
  assert.ok(closes.every((c) => c.side === 'local' && c.layer === 'tunnel'), JSON.stringify(closes.map((c) => [c.side, c.layer])));
  assert.equal(server.status().totals.sessionsOpened, 0);
  assert.equal(server.status().totals.streamsOpened, 0);
  assert.equal(echo.connections(), 0, 'the destination saw no connection');
});

test('a server certificate with the wrong fingerprint is refused before AUTH is sent', { timeout: 30_000 }, async (t) => {
  const { echo, server, port, closes } = await fixture();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: other.fingerprint, reconnectInitialMs: 50, reconnectMaxMs: 100 });
  t.after(async () => {
    await client.close();
    await server.close();
    await echo.close();
  });
  const failures: string[] = [];
  client.on('connectFailed', (e) => failures.push(e.code));
  let opened = 0;
  server.on('session', () => (opened += 1));
  client.start();
  assert.ok(await eventually(() => failures.length >= 2, 5000));
  assert.equal(failures[0], 'ERR_TUNNEL_FINGERPRINT');
  await eventually(() => closes.length >= 2, 2000);
  t.diagnostic(`server: ${closes.length} connection(s) ended before authentication (${[...new Set(closes.map((c) => c.reason))].join(', ') || 'TLS-level close'}), none authenticated`);
  assert.equal(opened, 0, 'no session was authenticated');
  assert.ok(closes.every((c) => c.reason !== 'auth_failed'), 'the client never even sent AUTH');
  assert.equal(server.status().totals.streamsOpened, 0);
});

test('a destination off the allowlist gets SOCKS5 reply 0x02; allowed ones connect', { timeout: 30_000 }, async (t) => {
  const { echo, server, port } = await fixture();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: pair.fingerprint });
  t.after(async () => {
    await client.close();
    await server.close();
    await echo.close();
  });
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  await client.waitConnected(5000);
  const cases: [string, number, number][] = [
    ['127.0.0.1', echo.port, 0],
    ['echo.test', echo.port, 0], // name rule; resolved on the server
    ['127.0.0.1', echo.port === 1 ? 2 : echo.port - 1, 2], // allowed host, other port
    ['10.0.0.1', echo.port, 2],
    ['localhost', echo.port, 0], // no name rule, but it resolves (on the server) into the CIDR rule
    ['localhost', 443, 2], // resolved only when a CIDR rule has the port: refused without a lookup
    ['evil.example', echo.port, 2], // resolves outside every CIDR rule
    ['nowhere.example', echo.port, 4], // does not resolve: host unreachable
  ];
  for (const [host, p, expected] of cases) {
    const { reply, socket } = await socksConnect(socks.address.port, host, p);
    if (reply === 0) assert.ok(await echoRoundTrip(socket, Buffer.from('x')));
    socket.destroy();
    assert.equal(reply, expected, `${host}:${p}`);
  }
  assert.equal(server.status().totals.streamsRefused['not-allowed'], 4);
  assert.equal(server.status().totals.streamsRefused.resolve, 1);
});

test('10,000 random and mutated frames close only the offending sessions, with typed errors; others keep working', { timeout: 90_000 }, async (t) => {
  const { echo, server, port, closes } = await fixture({ minPingIntervalMs: 1, streamIdleTimeoutMs: 2000 });
  const good = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: pair.fingerprint, name: 'good' });
  const socks = await good.listenSocks('127.0.0.1', 0);
  good.start();
  await good.waitConnected(5000);
  let goodDisconnects = 0;
  good.on('disconnected', () => (goodDisconnects += 1));
  const fds = (): number => readdirSync('/proc/self/fd').length;
  await sleep(100);
  const baseline = fds();
  const raws = new Set<RawSession>();
  t.after(async () => {
    for (const r of raws) r.destroy();
    await good.close();
    await server.close();
    await echo.close();
  });

  // The good client works all along: a long-lived stream echoing, and new streams now and then.
  let stop = false;
  let goodRounds = 0;
  let goodFailures = 0;
  const goodLoop = (async () => {
    const long = await socksConnect(socks.address.port, '127.0.0.1', echo.port);
    assert.equal(long.reply, 0);
    while (!stop) {
      if (await echoRoundTrip(long.socket, Buffer.from(`round ${goodRounds}`), 5000)) goodRounds += 1;
      else goodFailures += 1;
      if (goodRounds % 10 === 0) {
        const fresh = await socksConnect(socks.address.port, '127.0.0.1', echo.port);
        if (fresh.reply !== 0 || !(await echoRoundTrip(fresh.socket, Buffer.from('fresh'), 5000))) goodFailures += 1;
        fresh.socket.destroy();
      }
      await sleep(20);
    }
    long.socket.destroy();
  })();

  const seed = Number(process.env.LIFELINE_FUZZ_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`fuzz seed ${seed} (replay with LIFELINE_FUZZ_SEED=${seed})`);
  const rand = seeded(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const valid = (streamId: number): Buffer[] => [
    encodeOpen(streamId, 65_536, { kind: 'ipv4', host: '127.0.0.1', port: echo.port }),
    encodeOpen(streamId, 65_536, { kind: 'domain', host: 'echo.test', port: echo.port }),
    encodeFrame(FrameType.DATA, streamId, bytes(1 + int(64))),
    encodeU32(FrameType.WINDOW, streamId, 1 + int(100_000)),
    encodeFrame(FrameType.FIN, streamId),
    encodeFrame(FrameType.RST, streamId, Buffer.from([1])),
    encodePing(int(1000), int(5000)),
    encodeGoaway('ERR_X', 'bye'),
  ];
  const mutate = (frame: Buffer): Buffer => {
    const f = Buffer.from(frame);
    switch (int(6)) {
      case 0: // flip bytes anywhere
        for (let i = 0, n = 1 + int(3); i < n; i += 1) f[int(f.length)] = int(256);
        return f;
      case 1: // wrong length field (small change, so it may still parse against other bytes)
        f.writeUInt32BE(Math.max(0, f.readUInt32BE(6) + int(9) - 4), 6);
        return f;
      case 2: // huge length
        f.writeUInt32BE(0x10000 + int(0x7fffffff), 6);
        return f;
      case 3: // another type
        f[1] = int(256);
        return f;
      case 4: // another stream id
        f.writeUInt32BE(int(4) === 0 ? 0 : int(0xffffffff), 2);
        return f;
      default: // truncated payload, claiming the full length
        return f.subarray(0, Math.max(10, f.length - 1 - int(4)));
    }
  };
  const randomFrame = (): Buffer => {
    const payload = bytes(int(80));
    const f = encodeFrame(FrameType.DATA, 1, payload);
    f[0] = int(10) === 0 ? int(256) : 1;
    f[1] = int(3) === 0 ? int(256) : ([1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16][int(14)] as number);
    f.writeUInt32BE(int(3) === 0 ? 0 : int(8), 2);
    return f;
  };

  const TOTAL = 10_000;
  let sent = 0;
  const outcome = { closedByServer: 0, goawayCodes: new Map<string, number>(), survived: 0, stalled: 0, closedAfterOwnGoaway: 0, sessions: 0 };
  while (sent < TOTAL) {
    const authenticate = int(5) !== 0; // a fifth of the sessions fuzz before AUTH
    const raw = await RawSession.open(port, authenticate ? TOKEN : undefined);
    raws.add(raw);
    outcome.sessions += 1;
    const count = Math.min(TOTAL - sent, 1 + int(60));
    let streamId = 1;
    const batch: Buffer[] = [];
    // Mostly valid traffic with bad frames mixed in, so the server is hit in every state
    // (streams opening, open, half-closed) and not only at its first frame.
    const badShare = [0.02, 0.1, 0.5][int(3)] as number;
    for (let i = 0; i < count; i += 1) {
      const kind = rand() >= badShare ? 1 : int(2) === 0 ? 0 : 2;
      if (kind === 0) batch.push(randomFrame());
      else {
        const templates = valid(streamId);
        const frame = templates[int(templates.length)] as Buffer;
        if (frame[1] === FrameType.OPEN) streamId += 1 + int(2);
        batch.push(kind === 1 ? frame : mutate(frame));
      }
    }
    sent += count;
    const barrier = 999_999 + outcome.sessions;
    raw.write(Buffer.concat([...batch, encodePing(barrier, 0)]));
    const answered = await raw.until(() => raw.frames.some((f) => f.type === FrameType.PONG && Number(f.payload.readBigUInt64BE(0)) === barrier), 300);
    if (raw.goaway !== undefined) {
      await raw.until(() => raw.closed, 3000);
      outcome.closedByServer += 1;
      outcome.goawayCodes.set(raw.goaway.code, (outcome.goawayCodes.get(raw.goaway.code) ?? 0) + 1);
    } else if (raw.closed) outcome.closedAfterOwnGoaway += 1;
    else if (answered) outcome.survived += 1;
    else outcome.stalled += 1; // a frame still waits for bytes its length promised
    raw.destroy();
    raws.delete(raw);
  }
  stop = true;
  await goodLoop;

  t.diagnostic(`fuzz: ${sent} frames over ${outcome.sessions} sessions: ${outcome.closedByServer} closed by the server with GOAWAY, ${outcome.survived} survived (all frames valid), ${outcome.closedAfterOwnGoaway} ended by the fuzzer's own GOAWAY, ${outcome.stalled} waiting for promised bytes`);
  t.diagnostic(`GOAWAY codes: ${JSON.stringify(Object.fromEntries(outcome.goawayCodes))}`);
  t.diagnostic(`good client: ${goodRounds} echo rounds, ${goodFailures} failures, ${goodDisconnects} disconnects`);
  assert.equal(sent, TOTAL);
  const typed = new Set(['ERR_TUNNEL_VERSION', 'ERR_TUNNEL_FRAME', 'ERR_TUNNEL_FRAME_TOO_LARGE', 'ERR_TUNNEL_STREAM', 'ERR_TUNNEL_FLOW_CONTROL', 'ERR_TUNNEL_UNEXPECTED', 'ERR_TUNNEL_AUTH']);
  for (const code of outcome.goawayCodes.keys()) assert.ok(typed.has(code), `typed code ${code}`);
  assert.ok(outcome.closedByServer > outcome.sessions / 2, 'most fuzz sessions were closed by the server');
  const protocolCloses = closes.filter((c) => c.reason === 'protocol_error');
  const serverInitiated = closes.filter((c) => c.reason === 'protocol_error' || c.reason === 'auth_failed').length;
  t.diagnostic(`server-side closes by reason: ${JSON.stringify(server.status().totals.closes)}`);
  assert.equal(serverInitiated, outcome.closedByServer, 'every session the server closed for bad data was told why (GOAWAY)');
  assert.ok(closes.every((c) => ['protocol_error', 'auth_failed', 'peer_close', 'reset', 'tcp_timeout', 'tls_error', 'error'].includes(c.reason)), 'no other way to end (reset or another socket error: the fuzzer reset its own connection)');
  assert.ok(protocolCloses.every((c) => c.error instanceof TunnelProtocolError), 'protocol closes carry a TunnelProtocolError');
  assert.ok(protocolCloses.every((c) => c.side === 'local' && c.layer === 'tunnel'), 'a protocol error is ours to call, noticed by the tunnel');
  assert.equal(goodFailures, 0, 'the good client never failed');
  assert.equal(goodDisconnects, 0, 'the good client was never disconnected');
  assert.ok(goodRounds > 20, `the good client kept working: ${goodRounds}`);
  assert.ok(await eventually(() => server.sessions.size === 1, 3000), `only the good session remains: ${server.sessions.size}`);
  const released = await eventually(() => fds() <= baseline, 3000);
  t.diagnostic(`fds: baseline ${baseline}, after ${fds()}`);
  assert.ok(released, `fd count back to baseline: ${fds()} vs ${baseline}`);
});

test('a client pinging far too fast gets a NOTICE and its excess pings go unanswered', { timeout: 30_000 }, async (t) => {
  const { echo, server, port } = await fixture({ pingIntervalMs: 1000, minPingIntervalMs: 200 });
  const raw = await RawSession.open(port, TOKEN);
  t.after(async () => {
    raw.destroy();
    await server.close();
    await echo.close();
  });
  for (let i = 1; i <= 50; i += 1) raw.write(encodePing(i, 0));
  await raw.waitFrame(FrameType.NOTICE, 2000);
  await sleep(100);
  const pongs = raw.frames.filter((f) => f.type === FrameType.PONG).length;
  const notice = raw.frames.find((f) => f.type === FrameType.NOTICE);
  t.diagnostic(`50 pings at once: ${pongs} answered; notice: ${notice?.payload.toString('utf8', 5) ?? 'none'}`);
  assert.ok(notice !== undefined, 'told');
  assert.ok(pongs <= 11 && pongs >= 10, `limited to the burst: ${pongs}`);
  assert.equal(server.status().sessions[0]?.pingsLimited, 50 - pongs);
  assert.equal(raw.closed, false, 'limited, not disconnected');
});

test('limits: max clients, max streams per client, idle streams; no allowlist refuses to start', { timeout: 30_000 }, async (t) => {
  assert.throws(() => new TunnelServer({ key: pair.key, cert: pair.cert, tokens: [TOKEN] }), /open relay/);
  assert.throws(() => new TunnelServer({ key: pair.key, cert: pair.cert, allow: ['x:1'] }), /tokens or clientCa/);
  const { echo, server, port } = await fixture({ maxClients: 2, maxStreamsPerClient: 2, streamIdleTimeoutMs: 300 });
  const a = await RawSession.open(port, TOKEN);
  const b = await RawSession.open(port, TOKEN);
  const c = await RawSession.open(port, undefined).catch(() => undefined);
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: pair.fingerprint });
  t.after(async () => {
    for (const r of [a, b, c]) r?.destroy();
    await client.close();
    await server.close();
    await echo.close();
  });
  // The third connection gets GOAWAY ERR_TUNNEL_LIMIT instead of HELLO (so `open` may have failed).
  const third = c;
  if (third !== undefined) await third.until(() => third.closed, 2000);
  assert.ok(third === undefined || third.goaway?.code === 'ERR_TUNNEL_LIMIT', `third client: ${JSON.stringify(third?.goaway)}`);
  b.destroy();
  await eventually(() => server.sessions.size < 2, 2000);
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  await client.waitConnected(5000);
  const s1 = await socksConnect(socks.address.port, '127.0.0.1', echo.port);
  const s2 = await socksConnect(socks.address.port, '127.0.0.1', echo.port);
  const s3 = await socksConnect(socks.address.port, '127.0.0.1', echo.port);
  assert.deepEqual([s1.reply, s2.reply, s3.reply], [0, 0, 1], 'the third stream is over the per-client limit');
  s3.socket.destroy();
  assert.equal(server.status().totals.streamsRefused.limit, 1);
  // Idle streams are reset after streamIdleTimeoutMs (300 ms; the wheel ticks every 100 ms).
  const closedAt = await new Promise<number>((resolve) => {
    const started = Date.now();
    s1.socket.once('close', () => resolve(Date.now() - started));
  });
  t.diagnostic(`idle stream reset after ${closedAt} ms (streamIdleTimeoutMs 300)`);
  assert.ok(closedAt <= 300 + 250, `idle stream reset: ${closedAt} ms`);
  s2.socket.destroy();
});

test('fatal failures: after maxFatalRetries retries in a row the client emits fatal, enters failed and stops trying', { timeout: 30_000 }, async (t) => {
  const { echo, server, port } = await fixture();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: 'not-the-token-0123456789', fingerprint: pair.fingerprint, reconnectInitialMs: 10, reconnectMaxMs: 20, maxFatalRetries: 1 });
  t.after(async () => {
    await client.close();
    await server.close();
    await echo.close();
  });
  const failures: string[] = [];
  const fatal: { code: string; attempts: number }[] = [];
  client.on('connectFailed', (e) => failures.push(e.code));
  client.on('fatal', (e) => fatal.push({ code: e.code, attempts: e.attempts }));
  client.start();
  assert.ok(await eventually(() => fatal.length === 1, 10_000), `failures: ${failures.join(', ')}`);
  assert.deepEqual(fatal, [{ code: 'ERR_TUNNEL_AUTH', attempts: 2 }]);
  assert.equal(client.state, 'failed');
  await sleep(300);
  assert.deepEqual(failures, ['ERR_TUNNEL_AUTH', 'ERR_TUNNEL_AUTH'], 'no attempt after giving up');
  assert.throws(() => new TunnelClient({ server: '127.0.0.1:1', token: TOKEN, maxFatalRetries: -1 }), /maxFatalRetries/);
  assert.equal(new TunnelClient({ server: '127.0.0.1:1', token: TOKEN, maxFatalRetries: Infinity }).maxFatalRetries, Infinity);
});
