// Pipelined opens: to a destination the server already opened in this session, the client answers
// the SOCKS request at once and sends the first bytes behind OPEN; the server holds them (and a
// FIN) while it dials. These tests slow the server's dial down on purpose (a resolver that waits),
// so "answered before the server could have answered" is a difference of hundreds of ms, not a
// race. Real sockets on 127.0.0.1; every wait is bounded.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { TunnelClient } from '../src/tunnel/tunnel-client.js';
import type { TunnelClientOptions } from '../src/tunnel/tunnel-client.js';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import { eventually, socksConnect, startEcho, TunnelProc } from './helpers/tunnel-harness.js';

const TOKEN = 'pipeline-token-0123456789';
const pair = generateKeyPair();
const DIAL_DELAY_MS = 400;

/** Server + client; the server resolves `echo.test` to loopback after `dns.delayMs`, or fails. */
async function fixture(clientOptions: Partial<TunnelClientOptions> = {}) {
  const echo = await startEcho();
  const dns = { delayMs: 0, fail: false };
  const lookup = (host: string): Promise<string> =>
    new Promise((resolve, reject) => {
      setTimeout(() => {
        if (host !== 'echo.test' || dns.fail) reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
        else resolve('127.0.0.1');
      }, dns.delayMs);
    });
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [TOKEN], allow: ['echo.test:*'], lookup });
  const { port } = await server.listen();
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token: TOKEN, fingerprint: pair.fingerprint, ...clientOptions });
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  await client.waitConnected(5000);
  const close = async (): Promise<void> => {
    await client.close();
    await server.close();
    await echo.close();
  };
  return { echo, server, client, socksPort: socks.address.port, dns, close };
}

/** Connect through SOCKS and time the reply. */
async function timedConnect(socksPort: number, echoPort: number): Promise<{ reply: number; socket: net.Socket; replyMs: number }> {
  const t0 = performance.now();
  const { reply, socket } = await socksConnect(socksPort, 'echo.test', echoPort);
  return { reply, socket, replyMs: performance.now() - t0 };
}

/** Everything the socket receives until it ends (or closes), bounded by `timeoutMs`. */
function readAll(socket: net.Socket, timeoutMs: number): Promise<{ data: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`no end within ${timeoutMs} ms; got ${chunks.reduce((n, c) => n + c.length, 0)} bytes`)), timeoutMs);
    let ended = false;
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => (ended = true));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended });
    });
  });
}

test('a second open to a destination is pipelined: answered before the dial ends, its bytes and FIN held and delivered in order', { timeout: 30_000 }, async (t) => {
  const f = await fixture();
  t.after(f.close);
  // First open: waits for the server (exact reply), and teaches the client the destination.
  const first = await timedConnect(f.socksPort, f.echo.port);
  assert.equal(first.reply, 0);
  first.socket.destroy();
  // Now every dial takes DIAL_DELAY_MS on the server.
  f.dns.delayMs = DIAL_DELAY_MS;
  const second = await timedConnect(f.socksPort, f.echo.port);
  t.diagnostic(`pipelined SOCKS reply after ${second.replyMs.toFixed(1)} ms (the server's dial takes ${DIAL_DELAY_MS} ms)`);
  assert.equal(second.reply, 0);
  assert.ok(second.replyMs < DIAL_DELAY_MS / 2, `reply came after ${second.replyMs.toFixed(1)} ms: not pipelined`);
  // 3 MiB, more than the server's window (1 MiB), sent and half-closed at once: the first window's
  // worth waits on the server for the dial, the rest for credit; all of it arrives, in order, then
  // the FIN comes back from the echo server.
  const body = randomBytes(3 * 1024 * 1024);
  const sentAt = performance.now();
  const received = readAll(second.socket, 20_000);
  second.socket.end(body);
  const { data, ended } = await received;
  const elapsed = performance.now() - sentAt;
  t.diagnostic(`3 MiB echoed in ${elapsed.toFixed(0)} ms`);
  assert.ok(ended, 'the FIN came back');
  assert.equal(data.length, body.length);
  assert.equal(createHash('sha256').update(data).digest('hex'), createHash('sha256').update(body).digest('hex'));
  assert.ok(elapsed >= DIAL_DELAY_MS * 0.9, `the echo cannot come back before the dial ended (${elapsed.toFixed(0)} ms)`);
  assert.ok(await eventually(() => f.client.status().streams === 0, 2000), 'the stream is removed on both sides');
});

test('a pipelined open that fails closes the local connection; the next open to it waits and gets the exact reply', { timeout: 30_000 }, async (t) => {
  const f = await fixture();
  t.after(f.close);
  const first = await timedConnect(f.socksPort, f.echo.port);
  assert.equal(first.reply, 0);
  first.socket.destroy();
  f.dns.fail = true;
  // Pipelined: told "connected", then the server's OPEN_FAIL closes it without data.
  const second = await timedConnect(f.socksPort, f.echo.port);
  assert.equal(second.reply, 0);
  const { data } = await readAll(second.socket, 5000);
  assert.equal(data.length, 0);
  // Forgotten: this open waits for the server and gets SOCKS 0x04 (host unreachable: not resolved).
  const third = await timedConnect(f.socksPort, f.echo.port);
  t.diagnostic(`after the failure: reply ${third.reply}`);
  assert.equal(third.reply, 4);
  third.socket.destroy();
});

test('pipelineOpens: false waits for the server on every open', { timeout: 30_000 }, async (t) => {
  const f = await fixture({ pipelineOpens: false });
  t.after(f.close);
  const first = await timedConnect(f.socksPort, f.echo.port);
  assert.equal(first.reply, 0);
  first.socket.destroy();
  f.dns.delayMs = DIAL_DELAY_MS;
  const second = await timedConnect(f.socksPort, f.echo.port);
  t.diagnostic(`SOCKS reply after ${second.replyMs.toFixed(1)} ms`);
  assert.equal(second.reply, 0);
  assert.ok(second.replyMs >= DIAL_DELAY_MS * 0.9, `reply after ${second.replyMs.toFixed(1)} ms: before the dial ended`);
  second.socket.destroy();
});

test('--no-pipeline-opens reaches the CLI client: a repeat open waits for the server; without the flag it is pipelined', { timeout: 60_000 }, async (t) => {
  const echo = await startEcho();
  const dns = { delayMs: 0 };
  const lookup = (host: string): Promise<string> =>
    new Promise((resolve, reject) => {
      setTimeout(() => (host === 'echo.test' ? resolve('127.0.0.1') : reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }))), dns.delayMs);
    });
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [TOKEN], allow: ['echo.test:*'], lookup });
  const { port } = await server.listen();
  t.after(async () => {
    await server.close();
    await echo.close();
  });
  /** The SOCKS reply time of a second open to echo.test while the server's dial takes DIAL_DELAY_MS. */
  const repeatOpenMs = async (flags: string[]): Promise<number> => {
    dns.delayMs = 0;
    const proc = new TunnelProc(['client', '--server', `127.0.0.1:${port}`, '--token', TOKEN, '--fingerprint', pair.fingerprint, '--socks', '127.0.0.1:0', ...flags]);
    try {
      const listening = await proc.waitFor('the entry points', (e) => e.event === 'listening', 10_000);
      await proc.waitFor('a session', (e) => e.event === 'connected', 10_000);
      const socks = (listening.entries as { kind: string; port: number }[]).find((e) => e.kind === 'socks');
      assert.ok(socks !== undefined, 'the client logged its SOCKS port');
      const first = await timedConnect(socks.port, echo.port);
      assert.equal(first.reply, 0);
      first.socket.destroy();
      dns.delayMs = DIAL_DELAY_MS;
      const second = await timedConnect(socks.port, echo.port);
      assert.equal(second.reply, 0);
      second.socket.destroy();
      return second.replyMs;
    } finally {
      await proc.stop();
    }
  };
  const waited = await repeatOpenMs(['--no-pipeline-opens']);
  const pipelined = await repeatOpenMs([]);
  t.diagnostic(`repeat open: ${waited.toFixed(1)} ms with --no-pipeline-opens, ${pipelined.toFixed(1)} ms without (the dial takes ${DIAL_DELAY_MS} ms)`);
  assert.ok(waited >= DIAL_DELAY_MS * 0.9, `with --no-pipeline-opens the reply came after ${waited.toFixed(1)} ms: before the dial ended`);
  assert.ok(pipelined < DIAL_DELAY_MS / 2, `without the flag the reply came after ${pipelined.toFixed(1)} ms: not pipelined`);
});

test('a SOCKS5 greeting and request sent together are answered in one segment (the client wakes once)', { timeout: 30_000 }, async (t) => {
  const f = await fixture();
  t.after(f.close);
  for (const round of ['first open (waits for the server)', 'pipelined open']) {
    const socket = createConnection(f.socksPort, '127.0.0.1');
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    const name = Buffer.from('echo.test', 'latin1');
    const port = Buffer.alloc(2);
    port.writeUInt16BE(f.echo.port);
    socket.write(Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 3, name.length]), name, port]));
    // Every read until both replies (12 bytes) are in; the first open must complete (its OPEN_OK
    // teaches the client the destination) before the socket goes, or the next open is not pipelined.
    const reads: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no full reply in 5 s (${Buffer.concat(reads).length} bytes)`)), 5000);
      socket.on('data', (c: Buffer) => {
        reads.push(c);
        if (Buffer.concat(reads).length < 12) return;
        clearTimeout(timer);
        resolve();
      });
    });
    assert.deepEqual([...Buffer.concat(reads).subarray(0, 12)], [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0], `${round}: method reply, then success`);
    // The method reply (2 bytes) and the request's reply (10) in the first read: one write.
    if (round === 'pipelined open') assert.equal(reads[0]?.length, 12, `${round}: both replies in one read`);
    socket.destroy();
  }
});
