/**
 * writeOwned: borrowed bytes (a view of the shared read buffer) are copied before the write, so the
 * caller may overwrite them at once; large pieces go through pooled buffers that come back when
 * the socket has written them (none allocated in steady state); small ones are copied plainly; a
 * caller's own bytes are written as they are. Also end to end: 64 KiB bodies through the proxy to
 * many clients at once arrive intact.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../src/proxy/config/index.js';
import { writeOwned } from '../src/proxy/engine/borrowed-bytes.js';
import { Proxy } from '../src/proxy/proxy.js';
import { BufferPool } from '../src/transport/write-batcher.js';

class HeldSink extends Writable {
  readonly writes: Buffer[] = [];
  readonly views: Buffer[] = [];
  readonly pending: (() => void)[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.views.push(chunk); // what the socket holds until the write completes
    this.pending.push(() => {
      this.writes.push(Buffer.from(chunk)); // what reaches the kernel: read at completion
      done();
    });
  }
  complete(): void {
    this.pending.shift()?.();
  }
}

test('writeOwned: a borrowed piece is copied (the caller reuses its buffer at once); large ones through the pool', () => {
  const pool = new BufferPool(65_536, 8);
  const sink = new HeldSink({ highWaterMark: 1 << 20 });
  const shared = Buffer.alloc(65_536);
  const expected: Buffer[] = [];
  for (const [size, fill] of [[40_000, 1], [100, 2], [65_536, 3]] as const) {
    shared.fill(fill, 0, size);
    expected.push(Buffer.alloc(size, fill));
    writeOwned(sink, shared.subarray(0, size), true, pool);
    shared.fill(0xee); // the next read lands here before the write completes
  }
  for (let i = 0; i < 3; i += 1) sink.complete();
  assert.deepEqual(sink.writes, expected, 'every piece as it was when written');
  assert.equal(pool.size, 2, 'the two large pieces went through pooled buffers, given back after their writes');
  const again = new HeldSink();
  shared.fill(4, 0, 30_000);
  writeOwned(again, shared.subarray(0, 30_000), true, pool);
  assert.equal(pool.size, 1, 'the next large piece takes a kept buffer instead of allocating');
  again.complete();
  assert.equal(pool.size, 2);
  const own = Buffer.alloc(50_000, 5);
  const mine = new HeldSink();
  writeOwned(mine, own, false, pool);
  assert.equal(mine.views[0], own, "the caller's own bytes are written as they are, not copied");
  pool.clear();
});

test('64 KiB bodies through the proxy to 20 clients at once arrive intact (pooled copies of the shared read buffer)', { timeout: 30_000 }, async (t) => {
  const body = randomBytes(65_536);
  const digest = createHash('sha256').update(body).digest('hex');
  const backend = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const port = (backend.address() as net.AddressInfo).port;
  const proxy = await Proxy.start(parseConfig(`listeners: [{ name: m, address: "127.0.0.1:0", routes: [{ cluster: b }] }]\nclusters: { b: { endpoints: [{ address: "127.0.0.1:${port}" }] } }\naccessLog: { target: "off" }\n`, 'b.yaml', {}));
  t.after(async () => {
    await proxy.close();
    backend.close();
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  t.after(() => agent.destroy());
  const fetchOne = (): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: proxy.port(), path: '/', agent }, (res) => {
          const hash = createHash('sha256');
          res.on('data', (c: Buffer) => hash.update(c));
          res.on('end', () => resolve(hash.digest('hex')));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  const digests = await Promise.all(Array.from({ length: 200 }, fetchOne));
  assert.equal(digests.filter((d) => d === digest).length, 200, 'every body intact');
});
