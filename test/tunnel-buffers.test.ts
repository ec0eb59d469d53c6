/**
 * The tunnel's reused buffers: a WriteBatcher copies what it is given (the caller may overwrite it
 * at once), keeps order, writes one batch at a time and reports every batch once; a BufferPool
 * reuses its buffers under load and lets them go when quiet; the frame decoder keeps a copy of an
 * incomplete frame, so a caller may reuse its read buffer; a TLS session with SessionBuffers reads
 * into the shared buffer and a bulk transfer through it arrives intact.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import tls from 'node:tls';
import { FakeClock } from '../src/core/fake-clock.js';
import { BufferPool, WriteBatcher } from '../src/transport/write-batcher.js';
import { FrameDecoder, FrameType, encodeFrame, encodeU32 } from '../src/tunnel/frame.js';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { SessionBuffers, TlsTransport } from '../src/tunnel/transport.js';

/** A Writable that records each write and completes it when told (or at once). */
class Sink extends Writable {
  readonly writes: Buffer[] = [];
  readonly pending: (() => void)[] = [];
  holdWrites = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.writes.push(Buffer.from(chunk)); // a copy: what the batch held at write time
    if (this.holdWrites) this.pending.push(() => done());
    else done();
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('WriteBatcher: copies what it is given, keeps order, one batch per turn, one write outstanding', async () => {
  const sink = new Sink();
  sink.holdWrites = true;
  const pool = new BufferPool(64, 4);
  const written: number[] = [];
  const out = new WriteBatcher(sink, pool, (n) => written.push(n));
  const scratch = Buffer.alloc(20);
  let expected = '';
  for (let i = 0; i < 5; i += 1) {
    scratch.fill(65 + i); // the caller reuses its buffer after each append
    out.append(scratch);
    expected += String.fromCharCode(65 + i).repeat(20);
  }
  assert.equal(out.heldBytes, 100);
  assert.equal(sink.writes.length, 0, 'nothing written within the turn');
  await turn();
  assert.equal(sink.writes.length, 1, 'one write at the end of the turn (the first full batch)');
  out.append(Buffer.from('tail'), Buffer.from('!'));
  expected += 'tail!';
  await turn();
  assert.equal(sink.writes.length, 1, 'a second write waits for the outstanding one');
  for (let i = 0; i < 10 && sink.pending.length > 0; i += 1) {
    sink.pending.shift()?.();
    await turn();
  }
  assert.equal(Buffer.concat(sink.writes).toString('latin1'), expected, 'every byte, in order, as it was when appended');
  assert.equal(written.reduce((a, b) => a + b, 0), expected.length, 'every batch reported once, with its size');
  assert.equal(out.busy, false);
  assert.ok(pool.size >= 1, 'written batches went back to the pool');
});

test('WriteBatcher: flushAll hands everything held to the socket before end; drop forgets', async () => {
  const sink = new Sink();
  const out = new WriteBatcher(sink, new BufferPool(16, 2));
  out.append(Buffer.from('0123456789'));
  out.append(Buffer.from('abcdefghij')); // a second batch: 16-byte buffers
  out.flushAll();
  sink.end();
  await once(sink, 'finish');
  assert.equal(Buffer.concat(sink.writes).toString(), '0123456789abcdefghij');
  const other = new Sink();
  const dropped = new WriteBatcher(other, new BufferPool(16, 2));
  dropped.append(Buffer.from('lost'));
  dropped.drop();
  dropped.append(Buffer.from('ignored'));
  await turn();
  await turn();
  assert.equal(other.writes.length, 0, 'a dropped batcher writes nothing');
});

test('BufferPool: reuses under load, settles at what the load needs, lets the rest go when quiet', () => {
  const clock = new FakeClock();
  const pool = new BufferPool(1024, 16, { keep: 2, trimIntervalMs: 1000, clock });
  const first = Array.from({ length: 10 }, () => pool.take(1024));
  for (const b of first) pool.give(b);
  assert.equal(pool.size, 10, 'a burst leaves its buffers for reuse');
  const known = new Set(first);
  let allocated = 0;
  // A steady load that needs 4 buffers at a time, for 6 intervals.
  for (let tick = 0; tick < 24; tick += 1) {
    const inUse = [pool.take(1024), pool.take(1024), pool.take(1024), pool.take(1024)];
    for (const b of inUse) {
      if (known.has(b)) continue;
      allocated += 1;
      known.add(b);
    }
    for (const b of inUse) pool.give(b);
    clock.advance(250);
  }
  assert.equal(allocated, 0, 'the load never allocated: kept buffers served it');
  assert.equal(pool.size, 4, 'trimmed from the burst down to what the load uses');
  for (let i = 0; i < 4; i += 1) clock.advance(1000);
  assert.equal(pool.size, 2, 'quiet: down to `keep`, not below');
  assert.equal(pool.take(4096).length, 4096, 'an oversized request gets its own buffer');
  pool.give(Buffer.alloc(4096));
  assert.equal(pool.size, 2, 'only buffers of the pool size are kept');
  pool.clear();
  assert.equal(pool.size, 0);
});

test('FrameDecoder: a caller may overwrite its chunk after push (incomplete frames are copied)', () => {
  const frames = Buffer.concat([
    encodeFrame(FrameType.DATA, 3, Buffer.from('first payload')),
    encodeU32(FrameType.WINDOW, 3, 4096),
    encodeFrame(FrameType.GOAWAY, 0, Buffer.concat([Buffer.from([7]), Buffer.from('ERR_X_Ymessage')])),
    encodeFrame(FrameType.DATA, 5, Buffer.from('second')),
  ]);
  const reused = Buffer.alloc(7);
  for (const size of [1, 3, 7]) {
    const d = new FrameDecoder();
    const got: { type: number; streamId: number; payload: string }[] = [];
    for (let offset = 0; offset < frames.length; offset += size) {
      const piece = frames.subarray(offset, Math.min(frames.length, offset + size));
      piece.copy(reused);
      for (const f of d.push(reused.subarray(0, piece.length))) got.push({ type: f.type, streamId: f.streamId, payload: f.payload.toString('latin1') });
      reused.fill(0xee); // the socket's next read lands here
    }
    const data = (id: number): string => got.filter((f) => f.type === FrameType.DATA && f.streamId === id).map((f) => f.payload).join('');
    assert.equal(data(3), 'first payload', `DATA pieces intact (${size}-byte reads)`);
    assert.equal(data(5), 'second');
    const window = got.find((f) => f.type === FrameType.WINDOW);
    assert.equal(window === undefined ? -1 : Buffer.from(window.payload, 'latin1').readUInt32BE(0), 4096, `WINDOW split across reads intact (${size}-byte reads)`);
    assert.equal(got.find((f) => f.type === FrameType.GOAWAY)?.payload.slice(1), 'ERR_X_Ymessage');
  }
});

test('TlsTransport with SessionBuffers: reads land in the shared buffer; 32 MiB arrive intact', async (t) => {
  const pair = generateKeyPair();
  const buffers = new SessionBuffers();
  const payload = randomBytes(32 * 1024 * 1024);
  const server = tls.createServer({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.3' }, (socket) => {
    socket.on('error', () => undefined);
    const sender = new TlsTransport(socket, undefined, new SessionBuffers());
    for (let offset = 0; offset < payload.length; offset += 65_536) sender.writeParts(Buffer.alloc(0), payload.subarray(offset, offset + 65_536));
    sender.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
    buffers.clear();
  });
  const socket = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const transport = new TlsTransport(socket, 'test', buffers);
  const hash = createHash('sha256');
  let bytes = 0;
  let shared = 0;
  let reads = 0;
  transport.onData((chunk) => {
    reads += 1;
    if (chunk.buffer === buffers.tlsRead.buffer) shared += 1;
    hash.update(chunk);
    bytes += chunk.length;
  });
  const closed = new Promise<Error | undefined>((resolve) => transport.onClose(resolve));
  const deadline = setTimeout(() => transport.destroy(new Error('transfer took over 30 s')), 30_000);
  const error = await closed;
  clearTimeout(deadline);
  assert.equal(error, undefined);
  assert.equal(bytes, payload.length);
  assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'), 'every byte, in order');
  assert.ok(reads > 100, `many reads (${reads})`);
  assert.equal(shared, reads, 'every read is a view of the shared read buffer: none allocated');
});
