/**
 * The WebSocket frame-header scanner: every header form (7/16/64-bit length, masked or not,
 * empty, control frames) is found at the right boundaries whatever the chunking (split at every
 * byte, and byte by byte), Pong payloads are captured unmasked, and malformed headers throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketFrameError, WebSocketFrameScanner } from '../src/proxy/engine/websocket-frames.js';

/** An independent frame encoder (not the scanner's code). */
function frame(opts: { fin?: boolean; opcode: number; payload: Buffer; mask?: Buffer; form?: 7 | 16 | 64 }): Buffer {
  const { opcode, payload } = opts;
  const fin = opts.fin ?? true;
  const len = payload.length;
  const form = opts.form ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const parts: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = opts.mask === undefined ? 0 : 0x80;
  if (form === 7) parts.push(m | len);
  else if (form === 16) parts.push(m | 126, len >> 8, len & 0xff);
  else {
    parts.push(m | 127, 0, 0, 0, 0);
    parts.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const head = Buffer.from(parts);
  if (opts.mask === undefined) return Buffer.concat([head, payload]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (opts.mask as Buffer)[i % 4]!));
  return Buffer.concat([head, opts.mask, masked]);
}

const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);
const fill = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));

const FORMS: { name: string; bytes: Buffer; opcode: number; pong?: string }[] = [
  { name: 'empty unmasked text', bytes: frame({ opcode: 1, payload: Buffer.alloc(0) }), opcode: 1 },
  { name: 'empty masked binary', bytes: frame({ opcode: 2, payload: Buffer.alloc(0), mask: KEY }), opcode: 2 },
  { name: '7-bit unmasked', bytes: frame({ opcode: 2, payload: fill(125) }), opcode: 2 },
  { name: '7-bit masked', bytes: frame({ opcode: 1, payload: fill(5), mask: KEY }), opcode: 1 },
  { name: '16-bit unmasked', bytes: frame({ opcode: 2, payload: fill(126) }), opcode: 2 },
  { name: '16-bit masked', bytes: frame({ opcode: 2, payload: fill(300), mask: KEY }), opcode: 2 },
  { name: '64-bit unmasked', bytes: frame({ opcode: 2, payload: fill(70_000) }), opcode: 2 },
  { name: '64-bit masked', bytes: frame({ opcode: 2, payload: fill(65_536), mask: KEY }), opcode: 2 },
  { name: 'non-minimal 64-bit of 3 bytes', bytes: frame({ opcode: 1, payload: fill(3), form: 64 }), opcode: 1 },
  { name: 'first fragment', bytes: frame({ fin: false, opcode: 1, payload: fill(10) }), opcode: 1 },
  { name: 'continuation', bytes: frame({ fin: false, opcode: 0, payload: fill(10), mask: KEY }), opcode: 0 },
  { name: 'ping masked', bytes: frame({ opcode: 9, payload: Buffer.from('hi'), mask: KEY }), opcode: 9 },
  { name: 'pong unmasked', bytes: frame({ opcode: 10, payload: Buffer.from('lifeline:1') }), opcode: 10, pong: 'lifeline:1' },
  { name: 'pong masked', bytes: frame({ opcode: 10, payload: Buffer.from('lifeline:42'), mask: KEY }), opcode: 10, pong: 'lifeline:42' },
  { name: 'pong 125 bytes', bytes: frame({ opcode: 10, payload: Buffer.alloc(125, 0x61), mask: KEY }), opcode: 10, pong: 'a'.repeat(125) },
  { name: 'empty pong', bytes: frame({ opcode: 10, payload: Buffer.alloc(0) }), opcode: 10, pong: '' },
  { name: 'close', bytes: frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask: KEY }), opcode: 8 },
];

interface Seen {
  end: number;
  opcode: number;
  pong?: string;
}

/** Feed `stream` in the given chunks; return each frame end (stream offset), opcode and pong. */
function scan(stream: Buffer, cuts: number[]): Seen[] {
  const scanner = new WebSocketFrameScanner();
  const seen: Seen[] = [];
  const edges = [0, ...cuts, stream.length];
  for (let c = 0; c + 1 < edges.length; c++) {
    const chunk = Buffer.from(stream.subarray(edges[c], edges[c + 1])); // a copy: no shared memory
    for (let at = 0; at < chunk.length; ) {
      at = scanner.advance(chunk, at, chunk.length);
      if (scanner.atBoundary) {
        seen.push({ end: (edges[c] as number) + at, opcode: scanner.opcode, ...(scanner.opcode === 10 ? { pong: scanner.pongPayload().toString('latin1') } : {}) });
      }
    }
  }
  assert.ok(scanner.atBoundary, 'the stream ends between frames');
  return seen;
}

test('every header form is found, split at every byte and fed byte by byte', () => {
  for (const form of FORMS) {
    // The form between two small frames, so the boundaries around it are checked too.
    const before = frame({ opcode: 1, payload: Buffer.from('a') });
    const after = frame({ opcode: 2, payload: Buffer.from('z'), mask: KEY });
    const stream = Buffer.concat([before, form.bytes, after]);
    const expected: Seen[] = [
      { end: before.length, opcode: 1 },
      { end: before.length + form.bytes.length, opcode: form.opcode, ...(form.pong === undefined ? {} : { pong: form.pong }) },
      { end: stream.length, opcode: 2 },
    ];
    assert.deepEqual(scan(stream, []), expected, `${form.name}: one chunk`);
    // Split at every byte of the header and the first payload bytes (and a few far ones).
    const limit = Math.min(stream.length, before.length + 20);
    for (let cut = 1; cut < limit; cut++) assert.deepEqual(scan(stream, [cut]), expected, `${form.name}: split at ${cut}`);
    for (const cut of [stream.length - 3, stream.length - 2, stream.length - 1]) assert.deepEqual(scan(stream, [cut]), expected, `${form.name}: split at ${cut}`);
    if (stream.length < 2_000) {
      const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
      assert.deepEqual(scan(stream, everyByte), expected, `${form.name}: byte by byte`);
    }
  }
});

test('many frames in one chunk: advance stops at each frame end', () => {
  const frames = FORMS.map((f) => f.bytes);
  const stream = Buffer.concat(frames);
  let end = 0;
  const ends = frames.map((f) => (end += f.length));
  assert.deepEqual(
    scan(stream, []).map((s) => s.end),
    ends,
  );
  // Every split of the whole stream in two, and in three around the middle.
  for (let cut = 1; cut < stream.length; cut += 97) {
    assert.deepEqual(
      scan(stream, [cut]).map((s) => s.end),
      ends,
    );
  }
});

test('payload bytes are only counted: a large frame takes O(1) steps per chunk', () => {
  const scanner = new WebSocketFrameScanner();
  const head = Buffer.from([0x82, 127, 0, 0, 0, 0, 0x40, 0, 0, 0]); // 1 GiB binary
  assert.equal(scanner.advance(head, 0, head.length), head.length);
  assert.equal(scanner.atBoundary, false);
  assert.equal(scanner.payloadLength, 2 ** 30);
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 2 ** 30 / chunk.length - 1; i++) assert.equal(scanner.advance(chunk, 0, chunk.length), chunk.length);
  assert.equal(scanner.atBoundary, false);
  assert.equal(scanner.advance(chunk, 0, chunk.length), chunk.length);
  assert.equal(scanner.atBoundary, true);
});

test('malformed headers throw ERR_WEBSOCKET_FRAME, whatever the split', () => {
  const bad: { name: string; bytes: Buffer }[] = [
    ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => ({ name: `reserved opcode ${op}`, bytes: Buffer.from([0x80 | op, 0]) })),
    { name: '64-bit length with the top bit set', bytes: Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]) },
    { name: '64-bit length above 2^53 - 1', bytes: Buffer.from([0x82, 127, 0x00, 0x20, 0, 0, 0, 0, 0, 0]) },
    { name: 'ping of 126 bytes', bytes: Buffer.from([0x89, 126, 0, 126]) },
    { name: 'pong with 7-bit length 126', bytes: Buffer.from([0x8a, 0x80 | 126, 0, 126]) },
    { name: 'close with non-minimal 64-bit length 200', bytes: Buffer.from([0x88, 127, 0, 0, 0, 0, 0, 0, 0, 200]) },
    { name: 'fragmented ping', bytes: Buffer.from([0x09, 0]) },
    { name: 'fragmented close', bytes: Buffer.from([0x08, 0x80, 1, 2, 3, 4]) },
  ];
  for (const { name, bytes } of bad) {
    const stream = Buffer.concat([frame({ opcode: 1, payload: Buffer.from('ok') }), bytes]);
    for (let cut = 1; cut < stream.length; cut++) {
      assert.throws(
        () => scan(stream, [cut]),
        (error: unknown) => error instanceof WebSocketFrameError && error.code === 'ERR_WEBSOCKET_FRAME',
        `${name}, split at ${cut}`,
      );
    }
  }
});

test('RSV bits (permessage-deflate) pass without complaint', () => {
  const compressed = Buffer.concat([Buffer.from([0xc1, 3]), Buffer.from('abc')]);
  assert.deepEqual(scan(compressed, []), [{ end: 5, opcode: 1 }]);
});
