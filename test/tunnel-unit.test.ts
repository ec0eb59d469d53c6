// Unit-level checks of the tunnel: the frame format, addresses, the allowlist, Prometheus text,
// per-stream flow control (a stalled stream does not stall the others), and the CLI's usage
// errors (exit 2 naming the flag) and config file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeOpen, encodeOpen, ipv6Bytes, ipv6Text, parseForwardSpec, parseHostPort } from '../src/tunnel/address.js';
import { Allowlist } from '../src/tunnel/allowlist.js';
import { authMac, normalizeFingerprint, verifyMac } from '../src/tunnel/auth.js';
import { TunnelProtocolError } from '../src/tunnel/errors.js';
import { FrameDecoder, FrameType, HEADER_BYTES, decodeHello, encodeFrame, encodeHello, encodeU32 } from '../src/tunnel/frame.js';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { prometheusText } from '../src/tunnel/metrics.js';
import { TunnelClient } from '../src/tunnel/tunnel-client.js';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import { TunnelProc, eventually, expectedSha256, runCli, socksConnect, startOrigin } from './helpers/tunnel-harness.js';
import { createHash } from 'node:crypto';

test('frames: encode, decode whole and byte by byte', () => {
  const frames = [
    encodeFrame(FrameType.DATA, 7, Buffer.from('hello')),
    encodeU32(FrameType.WINDOW, 7, 65_536),
    encodeFrame(FrameType.FIN, 7),
    encodeHello({ nonce: Buffer.alloc(32, 9), pingIntervalMs: 25_000, clientTimeoutMs: 75_000, minPingIntervalMs: 1000, maxStreams: 1024, windowBytes: 262_144 }),
  ];
  const all = Buffer.concat(frames);
  assert.equal(all[0], 1, 'version byte first');
  const whole = new FrameDecoder().push(all);
  assert.deepEqual(whole.map((f) => f.type), [FrameType.DATA, FrameType.WINDOW, FrameType.FIN, FrameType.HELLO]);
  assert.equal(whole[0]?.payload.toString(), 'hello');
  assert.equal(decodeHello(whole[3]?.payload ?? Buffer.alloc(0)).clientTimeoutMs, 75_000);
  const d = new FrameDecoder();
  const split = [...all].flatMap((b) => d.push(Buffer.from([b])));
  // DATA arrives in pieces as its bytes do (no reassembly); the rest whole.
  const data = split.filter((f) => f.type === FrameType.DATA);
  assert.equal(data.length, 5);
  assert.equal(Buffer.concat(data.map((f) => f.payload)).toString(), 'hello');
  const rest = split.filter((f) => f.type !== FrameType.DATA);
  assert.deepEqual(rest.map((f) => [f.type, f.streamId, f.payload.length]), whole.slice(1).map((f) => [f.type, f.streamId, f.payload.length]));
  assert.equal(d.bufferedBytes, 0);
});

test('frames: bad data throws typed errors, and a failed decoder stays failed', () => {
  const cases: [Buffer, string][] = [
    [Buffer.from([2, FrameType.PING, 0, 0, 0, 0, 0, 0, 0, 12]), 'ERR_TUNNEL_VERSION'],
    [Buffer.from([1, 0x99, 0, 0, 0, 0, 0, 0, 0, 0]), 'ERR_TUNNEL_FRAME'],
    [Buffer.from([1, FrameType.DATA, 0, 0, 0, 1, 0, 1, 0, 1]), 'ERR_TUNNEL_FRAME_TOO_LARGE'],
    [Buffer.from([1, FrameType.PING, 0, 0, 0, 1, 0, 0, 0, 0]), 'ERR_TUNNEL_FRAME'], // session frame on a stream
    [Buffer.from([1, FrameType.FIN, 0, 0, 0, 0, 0, 0, 0, 0]), 'ERR_TUNNEL_FRAME'], // stream frame on stream 0
    [encodeU32(FrameType.WINDOW, 3, 0), 'ERR_TUNNEL_FRAME'],
    [Buffer.concat([Buffer.from([1, FrameType.PONG, 0, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(3)]), 'ERR_TUNNEL_FRAME'],
  ];
  for (const [bytes, code] of cases) {
    const d = new FrameDecoder();
    assert.throws(() => d.push(bytes), (e: unknown) => e instanceof TunnelProtocolError && e.code === code, code);
    assert.throws(() => d.push(encodeFrame(FrameType.FIN, 1)), TunnelProtocolError);
  }
  assert.equal(HEADER_BYTES, 10);
});

test('addresses: OPEN round trip for IPv4, IPv6 and names; host:port and -L parsing', () => {
  for (const d of [
    { kind: 'ipv4', host: '10.1.2.3', port: 80 },
    { kind: 'ipv6', host: '2001:db8::1', port: 443 },
    { kind: 'ipv6', host: '::1', port: 22 },
    { kind: 'domain', host: 'db.internal', port: 5432 },
  ] as const) {
    const frame = encodeOpen(5, 1234, d);
    assert.deepEqual(decodeOpen(frame.subarray(HEADER_BYTES)), { windowBytes: 1234, destination: d });
  }
  assert.equal(ipv6Text(ipv6Bytes('::ffff:1.2.3.4')), '::ffff:102:304');
  assert.deepEqual(parseHostPort('--listen', '[::1]:7000'), { host: '::1', port: 7000 });
  assert.deepEqual(parseHostPort('--socks', '1080', '127.0.0.1'), { host: '127.0.0.1', port: 1080 });
  assert.throws(() => parseHostPort('--listen', '::1:7000'), /--listen: put an IPv6 address in brackets/);
  assert.deepEqual(parseForwardSpec('-L', '15432:db.internal:5432'), { listenHost: '127.0.0.1', listenPort: 15432, target: { kind: 'domain', host: 'db.internal', port: 5432 } });
  assert.deepEqual(parseForwardSpec('-L', '0.0.0.0:8443:[fd00::5]:443').target, { kind: 'ipv6', host: 'fd00::5', port: 443 });
  assert.throws(() => parseForwardSpec('-L', '1:2'), /\[BIND:\]PORT:HOST:HOSTPORT/);
});

test('allowlist: names, wildcards, CIDRs, port lists; bad rules name the option', async () => {
  const allow = Allowlist.parse(['db.internal:5432', '*.svc.local:80,443', '10.0.0.0/8:8000-8999', '[fd00::/8]:22']);
  const sync = (kind: 'ipv4' | 'ipv6' | 'domain', host: string, port: number) => allow.decideSync({ kind, host, port })?.allowed;
  assert.equal(sync('domain', 'DB.internal', 5432), true);
  assert.equal(sync('domain', 'db.internal', 5433), false);
  assert.equal(sync('domain', 'a.b.svc.local', 443), true);
  assert.equal(sync('domain', 'svc.local', 443), false, 'a wildcard does not match the apex');
  assert.equal(sync('ipv4', '10.200.1.1', 8080), true);
  assert.equal(sync('ipv4', '11.0.0.1', 8080), false);
  assert.equal(sync('ipv6', 'fd12::1', 22), true);
  assert.equal(sync('ipv6', 'fd12::1', 23), false);
  assert.equal(sync('domain', 'other.example', 8080), undefined, 'needs a lookup: a CIDR rule has the port');
  assert.deepEqual(await allow.decide({ kind: 'domain', host: 'other.example', port: 8080 }, () => Promise.resolve('10.1.1.1')), { allowed: true, address: '10.1.1.1', rule: '10.0.0.0/8:8000-8999' });
  assert.equal((await allow.decide({ kind: 'domain', host: 'other.example', port: 8080 }, () => Promise.resolve('192.168.1.1'))).allowed, false);
  for (const bad of ['nohost', '10.0.0.0/33:80', 'x:0', 'x:9-2', 'bad_host!:80']) {
    assert.throws(() => Allowlist.parse([bad], '--allow'), (e: unknown) => (e as { option?: string }).option === '--allow', bad);
  }
});

test('auth: HMAC bound to nonce and channel; fingerprints normalised', () => {
  const nonce = Buffer.alloc(32, 1);
  const exporter = Buffer.alloc(32, 2);
  const mac = authMac('token-aaaaaaaaaaaaaaaa', nonce, exporter);
  assert.equal(verifyMac(['other-bbbbbbbbbbbbbbbb', 'token-aaaaaaaaaaaaaaaa'], nonce, exporter, mac), true);
  assert.equal(verifyMac(['token-aaaaaaaaaaaaaaaa'], nonce, Buffer.alloc(32, 3), mac), false, 'another TLS connection');
  assert.equal(verifyMac(['token-aaaaaaaaaaaaaaaa'], Buffer.alloc(32, 4), exporter, mac), false, 'another challenge');
  const hex = 'ab'.repeat(32);
  assert.equal(normalizeFingerprint('fp', `sha256:${hex}`), Array(32).fill('AB').join(':'));
  assert.throws(() => normalizeFingerprint('--fingerprint', 'abc'), /--fingerprint must be a SHA-256 fingerprint/);
});

test('prometheus text (through prom-client): HELP, TYPE, labels escaped, +Inf', async () => {
  const text = await prometheusText([{ name: 'x_total', help: 'X.', type: 'counter', samples: [{ labels: { reason: 'a"b\\c\nd' }, value: 3 }, { value: Number.POSITIVE_INFINITY }] }]);
  assert.equal(text, '# HELP x_total X.\n# TYPE x_total counter\nx_total{reason="a\\"b\\\\c\\nd"} 3\nx_total +Inf\n');
});

test('flow control: a stream whose reader stalls does not stall the others, and holds bounded memory', { timeout: 60_000 }, async (t) => {
  const pair = generateKeyPair();
  const origin = await startOrigin();
  const token = 'flow-token-0123456789abcdef';
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [token], allow: [`127.0.0.1:${origin.port}`], windowBytes: 65_536 });
  const { port } = await server.listen();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token, fingerprint: pair.fingerprint, windowBytes: 65_536 });
  const stalled: net.Socket[] = [];
  t.after(async () => {
    for (const s of stalled) s.destroy();
    await client.close();
    await server.close();
    await origin.close();
  });
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  await client.waitConnected(5000);
  // Three streams ask for 200 MB each and never read.
  for (let i = 0; i < 3; i += 1) {
    const { reply, socket } = await socksConnect(socks.address.port, '127.0.0.1', origin.port);
    assert.equal(reply, 0);
    socket.pause();
    socket.write(`GET /bytes/${200 * 1024 * 1024}/${i} HTTP/1.1\r\nhost: x\r\n\r\n`);
    stalled.push(socket);
  }
  await new Promise((r) => setTimeout(r, 300));
  // Meanwhile a fourth stream downloads 20 MB in full.
  const n = 20 * 1024 * 1024;
  const started = Date.now();
  const { reply, socket } = await socksConnect(socks.address.port, '127.0.0.1', origin.port);
  assert.equal(reply, 0);
  const hash = createHash('sha256');
  let head = Buffer.alloc(0);
  let body = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      if (body === 0 && head.indexOf('\r\n\r\n') < 0) {
        head = Buffer.concat([head, c]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        c = head.subarray(i + 4);
      }
      body += c.length;
      hash.update(c);
      if (body >= n) resolve();
    });
    socket.on('close', () => (body >= n ? resolve() : reject(new Error(`closed after ${body} bytes`))));
    socket.write(`GET /bytes/${n}/42 HTTP/1.1\r\nhost: x\r\n\r\n`);
  });
  socket.destroy();
  t.diagnostic(`20 MB on a fourth stream in ${Date.now() - started} ms while three streams were stalled`);
  assert.equal(hash.digest('hex'), expectedSha256(n, 42));
  // The stalled streams on the server: no credit left (or less than one read of the shared read
  // buffer needs), their target sockets paused, little queued.
  const session = [...server.sessions.values()][0];
  assert.ok(session !== undefined);
  // The fourth stream's socket was destroyed: its stream goes (RST), the three stalled ones stay.
  assert.ok(await eventually(() => session.mux.streams.size === 3, 2000), `streams on the server: ${session.mux.streams.size}`);
  const held = [...session.mux.streams.values()].filter((s) => s.bytesOut > 0 && !s.localEnded && (s.sendWindow === 0 || s.sendWindow < s.minReadCredit));
  t.diagnostic(`stalled streams on the server: ${held.map((s) => `sent ${s.bytesOut} B, queued ${s.queued} B, paused ${String(s.socket?.isPaused())}`).join('; ')}`);
  assert.equal(held.length, 3);
  for (const s of held) {
    assert.ok(s.queued <= 2 * 65_536 + 65_536, `queued per stalled stream bounded: ${s.queued}`);
    assert.equal(s.socket?.isPaused(), true);
  }
  assert.ok(await eventually(() => client.status().streams === 3, 2000));
});

test('CLI: bad flags exit 2 naming the flag; a config file works', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tunnel-cli-'));
  const procs: TunnelProc[] = [];
  t.after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  const keygen = await runCli(['keygen', '--out', dir, '--name', 'localhost', '--name', '127.0.0.1']);
  assert.equal(keygen.status, 0, keygen.stderr);
  const fingerprint = /([0-9A-F]{2}(:[0-9A-F]{2}){31})/.exec(keygen.stdout)?.[1];
  assert.ok(fingerprint !== undefined, keygen.stdout);
  writeFileSync(join(dir, 'tokens'), 'cli-token-0123456789abcdef\n');
  const base = ['--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key'), '--token-file', join(dir, 'tokens')];
  const cases: [string[], RegExp][] = [
    [['server', '--listen', '127.0.0.1:0', ...base], /--allow RULE is required: refusing to start an open relay/],
    [['server', '--listen', '127.0.0.1:0', ...base, '--allow', 'x:1', '--ping-interval', '5x'], /--ping-interval must be a duration/],
    [['server', '--listen', '127.0.0.1:0', ...base, '--allow', 'nohost'], /--allow/],
    [['server', '--listen', '127.0.0.1:0', ...base, '--allow', 'x:1', '--client-timeout', '10ms', '--ping-interval', '1s'], /--client-timeout/],
    [['server', '--listen', 'nowhere', ...base, '--allow', 'x:1'], /--listen must be HOST:PORT/],
    [['server', '--bogus'], /Unknown option '--bogus'/],
    [['client', '--server', '127.0.0.1:1', '--token', 'client-token-0123456789', '--socks', '1080', '--missed-pings', 'three'], /--missed-pings must be a whole number/],
    [['client', '--server', '127.0.0.1:1', '--token', 'client-token-0123456789'], /at least one entry point/],
    [['client', '--server', '127.0.0.1:1', '--token', 'client-token-0123456789', '--socks', '1080', '-L', 'bad'], /--forward must be/],
    [['client', '--server', '127.0.0.1:1', '--token', 'client-token-0123456789', '--socks', '1080', '--fingerprint', 'zz'], /--fingerprint/],
    [['frobnicate'], /unknown sub-command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  writeFileSync(join(dir, 'bad.yaml'), 'server:\n  listen: 127.0.0.1:0\n  pingInterval: 5s\n');
  const bad = await runCli(['server', '--config', join(dir, 'bad.yaml')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.yaml:3:3: server\.pingInterval: unknown key "pingInterval"; did you mean "pingIntervalMs"\?/);
  writeFileSync(
    join(dir, 'tunnel.yaml'),
    `server:\n  listen: 127.0.0.1:0\n  certFile: tunnel.crt\n  keyFile: tunnel.key\n  tokenFile: tokens\n  allow: ["127.0.0.1:9", "*.internal:443"]\n  pingIntervalMs: 2000\n  clientTimeoutMs: 6000\n`,
  );
  const server = new TunnelProc(['server', '--config', join(dir, 'tunnel.yaml')]);
  procs.push(server);
  const listening = await server.waitFor('server from config', (e) => e.event === 'listening', 15_000);
  const client = new TunnelProc(['client', '--server', `127.0.0.1:${String(listening.port)}`, '--token-file', join(dir, 'tokens'), '--fingerprint', fingerprint, '--socks', '127.0.0.1:0']);
  procs.push(client);
  const connected = await client.waitFor('client connected', (e) => e.event === 'connected', 15_000);
  assert.equal(connected.pingIntervalMs, 2000, 'the server announced the interval from its config file');
});

test('close() leaves nothing open: listeners, sessions, streams, entry points, admin', { timeout: 30_000 }, async () => {
  const { openTcpHandles } = await import('./helpers/tls-certs.js');
  const before = await openTcpHandles(0);
  const pair = generateKeyPair();
  const origin = await startOrigin();
  const token = 'close-token-0123456789abcdef';
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [token], allow: [`127.0.0.1:${origin.port}`] });
  const { port } = await server.listen();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token, fingerprint: pair.fingerprint });
  const socks = await client.listenSocks('127.0.0.1', 0);
  await client.listenHttpProxy('127.0.0.1', 0);
  await client.listenAdmin('127.0.0.1', 0);
  client.start();
  await client.waitConnected(5000);
  const { reply, socket } = await socksConnect(socks.address.port, '127.0.0.1', origin.port);
  assert.equal(reply, 0);
  await client.close();
  await server.close();
  await origin.close();
  socket.destroy();
  const after = await openTcpHandles(2000);
  assert.deepEqual(after, before, 'no TCP or TLS handle left open');
});
