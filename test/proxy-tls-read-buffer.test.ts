/**
 * TLS reads that allocate nothing:
 * - on Node 20 a TLS socket can read decrypted bytes into one caller's buffer: tls.connect's
 *   `onread` (client end) and readIntoBuffer (an accepted TLSSocket); measured by the growth of
 *   ArrayBuffer memory per read, against the same reads through 'data' events;
 * - the proxy's HTTPS client sockets and TLS upstream sockets read through its shared buffer
 *   (proxy.readBuffer holds the last bytes read), and large bodies cross both intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeTestCert } from './helpers/tls-certs.js';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';
import type { End, Mode, ReadAllocations } from './helpers/tls-read-allocations.js';

const HELPER = fileURLToPath(new URL('./helpers/tls-read-allocations.js', import.meta.url));

/**
 * One measurement in its own process (see the helper for why), with a 64 MiB young generation so
 * no scavenge falls inside the window and frees what it counts (the helper reports if one did).
 */
function measured(end: End, mode: Mode): Promise<ReadAllocations> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', HELPER, end, mode], { timeout: 60_000 }, (error, stdout) => {
      if (error) reject(new Error(`tls-read-allocations ${end} ${mode}: ${error.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as ReadAllocations);
    });
  });
}

test('a TLS read into a shared buffer allocates no ArrayBuffer; through a data event it allocates one per read', async () => {
  for (const end of ['accepted', 'connecting'] as const) {
    const viaData = await measured(end, 'data');
    const viaShared = await measured(end, 'shared');
    assert.equal(viaData.gcInWindow || viaShared.gcInWindow, false, `${end}: a window without GC`);
    assert.equal(viaData.received, viaData.sentBytes, `${end}: every byte through 'data'`);
    assert.equal(viaShared.received, viaShared.sentBytes, `${end}: every byte through the shared buffer`);
    assert.equal(viaShared.viewsOfShared, true, `${end}: every chunk is a view of the shared buffer`);
    // The control shows the measurement sees allocations: a 'data' read costs its bytes.
    assert.ok(viaData.perRead >= viaData.chunkBytes / 2, `${end}: 'data' reads allocate about their size (${viaData.perRead.toFixed(0)} bytes per read)`);
    assert.ok(viaShared.perRead < 256, `${end}: shared-buffer reads allocate no buffer (${viaShared.perRead.toFixed(0)} bytes of ArrayBuffer per read)`);
  }
});

test("the proxy's HTTPS client sockets and TLS upstream sockets read through its shared buffer", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-proxy-tls-rb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const front = makeTestCert({ keyType: 'ec' });
  const back = makeTestCert({ keyType: 'ec' });
  for (const [name, data] of [['front.key', front.key], ['front.crt', front.cert], ['back.crt', back.cert]] as const) writeFileSync(join(dir, name), data);

  // The proxy's shared read buffer, once it has started (the backend starts first).
  const shared: { buffer?: Buffer } = {};
  const seenAtBackend: boolean[] = [];
  const big = Buffer.alloc(300 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const backend = https.createServer({ key: back.key, cert: back.cert }, (req, res) => {
    // The proxy read this request from its client last: its bytes are in the shared buffer.
    const marker = String(req.headers['x-marker']);
    seenAtBackend.push(shared.buffer?.includes(marker) === true);
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (req.url === '/big') {
        res.end(big);
        return;
      }
      const body = Buffer.concat(parts);
      res.writeHead(200, { 'x-echo-bytes': String(body.length), 'x-echo-sum': String(body.reduce((a, b) => (a + b) % 65_521, 0)) });
      res.end(`response-marker-${marker}`);
    });
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.after(() => {
    backend.closeAllConnections();
    backend.close();
  });
  const yaml = `listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls: { certFile: ${join(dir, 'front.crt')}, keyFile: ${join(dir, 'front.key')} }
    routes: [{ cluster: secure }]
clusters:
  secure:
    endpoints: [{ address: "127.0.0.1:${(backend.address() as AddressInfo).port}" }]
    tls: { enabled: true, servername: localhost, caFile: ${join(dir, 'back.crt')} }
accessLog: { target: "off" }
`;
  const p = await Proxy.start(parseConfig(yaml, join(dir, 'proxy.yaml'), {}));
  shared.buffer = p.readBuffer;
  t.after(() => p.close());
  const agent = new https.Agent({ keepAlive: true, ca: front.cert, maxSockets: 1 });
  t.after(() => agent.destroy());
  const request = (path: string, marker: string, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: p.port(), path, method: body ? 'POST' : 'GET', servername: 'localhost', agent, headers: { 'x-marker': marker } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  for (let i = 0; i < 3; i++) {
    const marker = `m${i}-${Math.random().toString(36).slice(2)}`;
    const r = await request(`/small${i}`, marker);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `response-marker-${marker}`);
    // The proxy read this response from the TLS upstream last: it is in the shared buffer.
    assert.equal(p.readBuffer.includes(`response-marker-${marker}`), true, `request ${i}: the TLS upstream's response was read into proxy.readBuffer`);
  }
  assert.deepEqual(seenAtBackend, [true, true, true], "each HTTPS client request was read into proxy.readBuffer");

  // Bodies larger than the 64 KiB buffer cross both ways intact (the bytes are consumed or copied
  // within each read).
  const upload = Buffer.alloc(200 * 1024);
  for (let i = 0; i < upload.length; i++) upload[i] = (i * 13) & 0xff;
  const posted = await request('/upload', 'up', upload);
  assert.equal(posted.status, 200);
  assert.equal(posted.headers['x-echo-bytes'], String(upload.length));
  assert.equal(posted.headers['x-echo-sum'], String(upload.reduce((a, b) => (a + b) % 65_521, 0)));
  const got = await request('/big', 'big');
  assert.equal(got.status, 200);
  assert.equal(Buffer.compare(got.body, big), 0, 'a 300 KiB response arrives byte for byte');
});
