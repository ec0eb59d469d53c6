/**
 * The per-tunnel WebSocket pinger on a fake clock: pings after silence (unmasked to the client,
 * masked to the backend), own pongs swallowed and foreign ones forwarded, pings only between
 * frames (waiting for a large frame's end), a silent side cut off at interval + timeout, no pings
 * after a Close, and bytes otherwise forwarded unchanged and in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/core/fake-clock.js';
import { WebSocketPinger } from '../src/proxy/engine/websocket-pinger.js';
import type { LifelineError } from '../src/core/errors.js';

function unmasked(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const p = Buffer.from(payload);
  assert.ok(p.length < 126);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, p.length]), p]);
}

function masked(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const p = Buffer.from(payload);
  assert.ok(p.length < 126);
  const key = [9, 8, 7, 6];
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | p.length, ...key]), Buffer.from(p.map((b, i) => b ^ key[i % 4]!))]);
}

/** Parse a whole byte string into frames (test-side parser, small frames or 16-bit lengths). */
function frames(bytes: Buffer): { opcode: number; fin: boolean; masked: boolean; payload: string }[] {
  const out: { opcode: number; fin: boolean; masked: boolean; payload: string }[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    let len = b1 & 0x7f;
    let at = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at);
      at += 2;
    }
    const isMasked = (b1 & 0x80) !== 0;
    const key = isMasked ? bytes.subarray(at, at + 4) : undefined;
    if (isMasked) at += 4;
    const payload = Buffer.from(bytes.subarray(at, at + len).map((b, k) => (key === undefined ? b : b ^ key[k % 4]!)));
    out.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, masked: isMasked, payload: payload.toString('latin1') });
    i = at + len;
  }
  return out;
}

function setup() {
  const clock = new FakeClock();
  const toClient: Buffer[] = [];
  const toBackend: Buffer[] = [];
  const failures: LifelineError[] = [];
  const pinger = new WebSocketPinger({
    intervalMs: 200,
    timeoutMs: 500,
    clock,
    toClient: (b) => (toClient.push(Buffer.from(b)), true),
    toBackend: (b) => (toBackend.push(Buffer.from(b)), true),
    onFailure: (e) => failures.push(e),
  }).start();
  return { clock, toClient, toBackend, failures, pinger, client: () => frames(Buffer.concat(toClient)), backend: () => frames(Buffer.concat(toBackend)) };
}

test('after intervalMs of silence each side gets a ping: unmasked to the client, masked to the backend', () => {
  const s = setup();
  s.clock.advance(199);
  assert.equal(s.toClient.length + s.toBackend.length, 0);
  s.clock.advance(1);
  assert.deepEqual(s.client(), [{ opcode: 9, fin: true, masked: false, payload: 'lifeline:1' }]);
  assert.deepEqual(s.backend(), [{ opcode: 9, fin: true, masked: true, payload: 'lifeline:1' }]);
  // Their pongs are swallowed; the peers stay alive through many rounds.
  // (Answering as ws does: each ping at once, with its own payload.)
  let answered = 0;
  for (let t = 0; t < 3_000; t += 50) {
    for (; answered < s.pinger.counts.pingsToClient; answered++) {
      s.pinger.fromClient(masked(10, `lifeline:${answered + 1}`));
      s.pinger.fromBackend(unmasked(10, `lifeline:${answered + 1}`));
    }
    s.clock.advance(50);
  }
  assert.ok(answered >= 5, `${answered} rounds`);
  assert.equal(s.failures.length, 0);
  assert.equal(s.client().filter((f) => f.opcode !== 9).length, 0, 'the client sees only pings');
  assert.equal(s.backend().filter((f) => f.opcode !== 9).length, 0, 'the backend sees only pings');
  assert.equal(s.pinger.counts.pongsFromClient, answered);
  assert.equal(s.pinger.counts.pongsFromBackend, answered);
  s.pinger.close();
  assert.equal(s.clock.pendingTimers, 0, 'close releases the timers');
});

test('traffic postpones pings; foreign pongs and unknown lifeline numbers are forwarded untouched', () => {
  const s = setup();
  for (let i = 0; i < 10; i++) {
    s.clock.advance(150);
    s.pinger.fromClient(masked(1, `m${i}`));
    s.pinger.fromBackend(unmasked(1, `r${i}`));
  }
  assert.equal(s.pinger.counts.pingsToClient + s.pinger.counts.pingsToBackend, 0);
  const foreign = [masked(10, 'app pong'), masked(10, 'lifeline:7'), masked(10, 'lifeline:x'), masked(10, '')];
  for (const f of foreign) s.pinger.fromClient(f);
  assert.deepEqual(
    s.backend().slice(10).map((f) => f.payload),
    ['app pong', 'lifeline:7', 'lifeline:x', ''],
  );
  s.pinger.close();
});

test('an own pong split at every byte, between data frames, is swallowed and the rest kept in order', () => {
  for (let cut = 1; cut < 40; cut++) {
    const s = setup();
    s.clock.advance(200); // ping 1 to each side
    s.toBackend.length = 0;
    const stream = Buffer.concat([masked(1, 'before'), masked(10, 'lifeline:1'), masked(1, 'after')]);
    s.pinger.fromClient(stream.subarray(0, cut));
    s.pinger.fromClient(stream.subarray(cut));
    assert.deepEqual(
      s.backend().map((f) => `${f.opcode}:${f.payload}`),
      ['1:before', '1:after'],
      `split at ${cut}`,
    );
    assert.equal(s.pinger.counts.pongsFromClient, 1);
    s.pinger.close();
  }
});

test('a ping due mid-frame waits for the frame end; bytes flowing to the side keep it alive', () => {
  const s = setup();
  // A 1000-byte binary frame from the backend, arriving slowly.
  const head = Buffer.from([0x82, 126, 0x03, 0xe8]);
  const body = Buffer.alloc(1000, 0x55);
  s.pinger.fromBackend(Buffer.concat([head, body.subarray(0, 100)]));
  for (let i = 1; i < 10; i++) {
    s.clock.advance(150); // the client is silent: its ping is due at 200, but the frame is open (1350 ms)
    s.pinger.fromBackend(body.subarray(i * 100, i * 100 + (i === 9 ? 50 : 100)));
  }
  assert.equal(s.failures.length, 0, 'nobody is dead while the frame streams');
  assert.equal(s.pinger.counts.pingsToClient, 0, 'no ping injected mid-frame');
  // The frame ends inside this chunk, followed by another frame: the ping goes between them.
  s.pinger.fromBackend(Buffer.concat([body.subarray(950), unmasked(1, 'next')]));
  const out = s.client();
  assert.deepEqual(
    out.map((f) => `${f.opcode}:${f.payload.length > 20 ? f.payload.length : f.payload}`),
    ['2:1000', '9:lifeline:1', '1:next'],
  );
  assert.equal(Buffer.concat(s.toClient).subarray(4, 1004).equals(body), true, 'payload intact');
  s.pinger.close();
});

test('a ping is allowed between the fragments of a message', () => {
  const s = setup();
  s.pinger.fromBackend(unmasked(1, 'part1', false));
  s.clock.advance(200);
  s.pinger.fromBackend(unmasked(0, 'part2', true));
  assert.deepEqual(
    s.client().map((f) => `${f.opcode}:${f.payload}`),
    ['1:part1', '9:lifeline:1', '0:part2'],
  );
  s.pinger.close();
});

test('a silent side is cut off at intervalMs + timeoutMs (missedLimit 1)', () => {
  const s = setup();
  for (let t = 0; t < 1_000; t += 50) {
    s.clock.advance(50);
    s.pinger.fromBackend(unmasked(1, 'tick')); // the backend talks; the client never answers
  }
  assert.equal(s.failures.length, 1);
  assert.equal(s.failures[0]?.code, 'ERR_WEBSOCKET_PING_TIMEOUT');
  assert.match(s.failures[0]?.message ?? '', /client/);
  assert.equal(s.clock.pendingTimers, 0);
});

test('a malformed frame fails the tunnel and nothing after it is forwarded', () => {
  const s = setup();
  s.pinger.fromClient(Buffer.concat([masked(1, 'ok'), Buffer.from([0x83, 0x80, 1, 2, 3, 4])]));
  assert.equal(s.failures[0]?.code, 'ERR_WEBSOCKET_FRAME');
  const before = Buffer.concat(s.toBackend).length;
  s.pinger.fromClient(masked(1, 'more'));
  assert.equal(Buffer.concat(s.toBackend).length, before);
  assert.equal(s.clock.pendingTimers, 0);
});

test('after a Close frame no more pings are sent', () => {
  const s = setup();
  s.pinger.fromClient(masked(8, Buffer.from([0x03, 0xe8])));
  s.clock.advance(5_000);
  assert.equal(s.pinger.counts.pingsToClient + s.pinger.counts.pingsToBackend, 0);
  assert.equal(s.failures.length, 0);
  assert.equal(s.clock.pendingTimers, 0);
});
