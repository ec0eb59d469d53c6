import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { probeSocket, isReusable } from '../src/transport/socket-probe.js';
import { loadNativeTcp } from '../src/transport/native.js';
import type { NativeTcpBinding } from '../src/transport/native.js';
import { constants as osConstants } from 'node:os';
import { nativeAddonMissing, skipFor } from './helpers/prerequisites.js';

const needPeek = skipFor('socket-probe (native peek)', nativeAddonMissing() ?? (loadNativeTcp()?.peek === undefined ? 'the native addon has no peek()' : undefined));

async function pair(): Promise<{ client: net.Socket; server: net.Socket; close: () => Promise<void> }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      listener.close();
      await once(listener, 'close');
    },
  };
}

/** Busy-wait without yielding to the event loop. */
function spinMs(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

const PEER = `const net = require('node:net');
const server = net.createServer((s) => s.on('data', () => { s.end(); server.close(); }));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

test('an open, quiet socket probes open', { skip: needPeek }, async () => {
  const p = await pair();
  assert.equal(probeSocket(p.client), 'open');
  assert.ok(isReusable(probeSocket(p.client)));
  await p.close();
});

test("the peer's FIN is seen before the event loop delivers 'end'", { skip: needPeek }, async () => {
  // The peer is another process, so it can close while this process's event loop is blocked:
  // the FIN then sits in our kernel, undelivered to JavaScript, as between two polls of a pool.
  const peer = spawn(process.execPath, ['-e', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(peer.stdout, 'data')) as [Buffer];
    const client = net.connect(Number(line.toString().trim()), '127.0.0.1');
    await once(client, 'connect');
    assert.equal(probeSocket(client), 'open');
    client.write('bye\n'); // written synchronously; the peer answers by closing
    spinMs(300);
    assert.equal(client.readableEnded, false, "JavaScript has not seen 'end' yet");
    assert.equal(probeSocket(client), 'eof');
    assert.equal(isReusable(probeSocket(client)), false);
    client.destroy();
  } finally {
    peer.kill();
  }
});

test('bytes that arrive on an idle socket make it unfit, without being consumed', { skip: needPeek }, async () => {
  const p = await pair();
  p.client.pause();
  p.server.write('HTTP/1.1 408 Request Timeout\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(probeSocket(p.client), 'readable');
  const data = once(p.client, 'data') as Promise<[Buffer]>;
  p.client.resume();
  const [chunk] = await data;
  assert.match(chunk.toString(), /^HTTP\/1\.1 408/, 'the probed bytes are still delivered');
  await p.close();
});

test('an RST is reported as an error', { skip: needPeek }, async () => {
  const peer = spawn(process.execPath, ['-e', PEER.replace('s.end()', 's.resetAndDestroy()')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(peer.stdout, 'data')) as [Buffer];
    const client = net.connect(Number(line.toString().trim()), '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    client.write('bye\n');
    spinMs(300);
    assert.equal(probeSocket(client), 'error');
    client.destroy();
  } finally {
    peer.kill();
  }
});

test('JavaScript-level state is enough when there is no addon', async () => {
  const p = await pair();
  p.client.on('error', () => undefined);
  assert.equal(probeSocket(p.client, null), 'unknown');
  p.server.end();
  await once(p.client, 'end');
  assert.equal(probeSocket(p.client, null), 'eof');
  p.client.destroy();
  assert.equal(probeSocket(p.client, null), 'destroyed');
  await p.close();
});

test("a quiet socket is the addon's PEEK_OPEN answer, not a hard-coded errno (-11 is EAGAIN only on Linux)", async () => {
  const p = await pair();
  try {
    const fake = (answer: number, PEEK_OPEN?: number): NativeTcpBinding => ({
      set: () => undefined,
      get: () => ({ enable: 0, idleSec: null, intervalSec: null, count: null, userTimeoutMs: null }),
      peek: () => answer,
      ...(PEEK_OPEN === undefined ? {} : { PEEK_OPEN }),
    });
    assert.equal(probeSocket(p.client, fake(2, 2)), 'open');
    assert.equal(probeSocket(p.client, fake(-11, 2)), 'error', 'with PEEK_OPEN, a -errno is an error whatever its number');
    // An addon built before PEEK_OPEN: its quiet answer is this platform's -EAGAIN.
    assert.equal(probeSocket(p.client, fake(-osConstants.errno.EAGAIN)), 'open');
    const native = loadNativeTcp();
    if (native !== undefined) {
      assert.equal(typeof native.PEEK_OPEN, 'number', 'the built addon exports PEEK_OPEN');
      assert.ok((native.PEEK_OPEN ?? 0) > 1, 'PEEK_OPEN cannot be mistaken for 1 (data), 0 (FIN) or a -errno');
    }
  } finally {
    await p.close();
  }
});
