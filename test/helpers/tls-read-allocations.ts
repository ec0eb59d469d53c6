/**
 * Bytes of ArrayBuffer memory per TLS read, through 'data' events or a shared buffer, for
 * test/proxy-tls-read-buffer.test.ts. A script, not a module to import: the test runs it as its
 * own process (`node --expose-gc tls-read-allocations.js END MODE`), away from the test runner,
 * whose own allocations fill the young generation so fast that a scavenge fell inside every
 * measuring window (a scavenge frees what the window counts). Prints one JSON line.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { makeTestCert } from './tls-certs.js';
import { readIntoBuffer } from '../../src/transport/user-read-buffer.js';

const READS = 200;
const CHUNK = 4_000;

export type Mode = 'data' | 'shared';
export type End = 'accepted' | 'connecting';

export interface ReadAllocations {
  chunkBytes: number;
  /** Every byte written: READS + 1 chunks. */
  sentBytes: number;
  perRead: number;
  received: number;
  viewsOfShared: boolean;
  gcInWindow: boolean;
}

const fullGc = (globalThis as { gc?: () => void }).gc;
// Every GC's start time: a window with a GC in it is measured again (a GC frees what it counts).
const gcStarts: number[] = [];

/**
 * Bytes of ArrayBuffer memory per read while `READS` writes of `CHUNK` bytes cross one TLS
 * connection, read by the server end ('accepted') or the client end ('connecting') in `mode`.
 * One write a turn, so each arrives as its own read.
 */
async function measure(end: End, mode: Mode): Promise<ReadAllocations> {
  const cert = makeTestCert({ keyType: 'ec' });
  const shared = Buffer.alloc(64 * 1024);
  let received = 0;
  let viewsOfShared = true;
  let reads = 0;
  const count = (chunk: Buffer): void => {
    received += chunk.length;
    reads += 1;
    if (chunk.buffer !== shared.buffer) viewsOfShared = false;
  };
  let accepted: tls.TLSSocket | undefined;
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (socket) => {
    accepted = socket;
    if (end !== 'accepted') return;
    if (mode === 'data') socket.on('data', count);
    else assert.equal(readIntoBuffer(socket, shared, (nread) => (count(shared.subarray(0, nread)), true)), true, 'a TLSSocket takes a user buffer');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const onread: net.OnReadOpts = { buffer: shared, callback: (nread) => (count(shared.subarray(0, nread)), true) };
  const options: tls.ConnectionOptions & { onread?: net.OnReadOpts } = {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    ca: cert.cert,
    servername: 'localhost',
    ...(end === 'connecting' && mode === 'shared' ? { onread } : {}),
  };
  const client = tls.connect(options);
  if (end === 'connecting' && mode === 'data') client.on('data', count);
  await once(client, 'secureConnect');
  const t0 = Date.now();
  while (accepted === undefined && Date.now() - t0 < 5_000) await new Promise((r) => setImmediate(r));
  const writer = end === 'accepted' ? client : (accepted as tls.TLSSocket);
  const payload = Buffer.alloc(CHUNK, 'a');
  writer.write(payload); // one read first, so lazily made objects exist before the window
  while (received < CHUNK && Date.now() - t0 < 5_000) await new Promise((r) => setImmediate(r));
  fullGc?.();
  await new Promise((r) => setTimeout(r, 20)); // the full GC's entry is delivered before the window
  const windowStart = performance.now();
  const readsBefore = reads;
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < READS; i++) {
    writer.write(payload);
    await new Promise((r) => setImmediate(r));
  }
  while (received < (READS + 1) * CHUNK && Date.now() - t0 < 10_000) await new Promise((r) => setImmediate(r));
  const grown = process.memoryUsage().arrayBuffers - before;
  const windowEnd = performance.now();
  await new Promise((r) => setTimeout(r, 20)); // GC entries arrive asynchronously
  const gcInWindow = gcStarts.some((at) => at >= windowStart && at <= windowEnd);
  const perRead = grown / Math.max(1, reads - readsBefore);
  client.destroy();
  accepted?.destroy();
  server.close();
  return { chunkBytes: CHUNK, sentBytes: (READS + 1) * CHUNK, perRead, received, viewsOfShared, gcInWindow };
}

async function main(): Promise<void> {
  const [end, mode] = process.argv.slice(2) as [End, Mode];
  assert.ok(fullGc !== undefined, 'run with --expose-gc');
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcStarts.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  let m = await measure(end, mode);
  for (let attempt = 1; attempt < 5 && m.gcInWindow; attempt++) m = await measure(end, mode);
  observer.disconnect();
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

await main();
