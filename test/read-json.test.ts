/**
 * readJsonObject (src/http/server/read-json.ts), the one JSON body reader of the admin and lease
 * APIs, on a real http.Server with raw client sockets: a body split across reads (inside a UTF-8
 * character), too large (refused at the first byte over, the request torn down), not JSON, JSON
 * but not an object, and an empty body with and without `emptyIsObject`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { JsonBodyError, readJsonObject } from '../src/http/server/read-json.js';

type Outcome = { value: Record<string, unknown>; dataEvents: number } | { error: unknown; dataEvents: number };

/** A server whose handler reads the body with readJsonObject and reports what it got. */
async function startReader(t: { after(fn: () => unknown): void }): Promise<{ port: number; next(): Promise<Outcome>; dataEvents(): number }> {
  const waiting: ((o: Outcome) => void)[] = [];
  const done: Outcome[] = [];
  let dataEvents = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    dataEvents = 0;
    req.on('data', () => dataEvents++);
    const maxBytes = req.url === '/small' ? 16 : 1024;
    const report = (o: Outcome): void => {
      const w = waiting.shift();
      if (w !== undefined) w(o);
      else done.push(o);
    };
    readJsonObject(req, maxBytes, { emptyIsObject: req.url === '/empty-ok' }).then(
      (value) => {
        report({ value, dataEvents });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      },
      (error: unknown) => {
        report({ error, dataEvents });
        if (!res.destroyed) res.writeHead(error instanceof JsonBodyError ? error.httpStatus : 500).end();
      },
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return {
    port: (server.address() as AddressInfo).port,
    next: () => {
      const o = done.shift();
      return o !== undefined ? Promise.resolve(o) : new Promise((resolve) => waiting.push(resolve));
    },
    dataEvents: () => dataEvents,
  };
}

async function open(port: number, t: { after(fn: () => unknown): void }): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const post = (path: string, body: string): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('a good body split across three reads, one split inside a UTF-8 character, parses whole', { timeout: 10_000 }, async (t) => {
  const r = await startReader(t);
  const socket = await open(r.port, t);
  const body = Buffer.from('{"address": "10.0.0.5:8080", "name": "café"}');
  const cut1 = 10;
  const cut2 = body.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, cut1));
  await waitUntil(() => r.dataEvents() === 1, 5_000, 'the first piece');
  socket.write(body.subarray(cut1, cut2));
  await waitUntil(() => r.dataEvents() === 2, 5_000, 'the second piece');
  socket.write(body.subarray(cut2));
  const o = await r.next();
  assert.ok('value' in o, `resolved, not ${'error' in o ? String(o.error) : ''}`);
  assert.deepEqual(o.value, { address: '10.0.0.5:8080', name: 'café' });
  assert.equal(o.dataEvents, 3, 'the body came in three reads');
});

test('too large: rejected at the first read over the limit, 413 status, the request torn down before the rest is sent', { timeout: 10_000 }, async (t) => {
  const r = await startReader(t);
  const socket = await open(r.port, t);
  // Announces 40 bytes against a 16-byte limit; sends 10, then 10 more (20 > 16), never the rest.
  socket.write(`POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{"a": "123`);
  await waitUntil(() => r.dataEvents() === 1, 5_000, 'the first piece');
  socket.write('4567890123');
  const o = await r.next();
  assert.ok('error' in o, 'rejected');
  assert.ok(o.error instanceof JsonBodyError, `a JsonBodyError, not ${String(o.error)}`);
  assert.equal(o.error.code, 'ERR_JSON_BODY_TOO_LARGE');
  assert.equal(o.error.httpStatus, 413);
  assert.equal(o.error.message, 'request body over 16 bytes');
  assert.equal(o.dataEvents, 2, 'refused at the read that crossed the limit, without waiting for the announced 40 bytes');
  if (!socket.destroyed) await once(socket, 'close', { signal: AbortSignal.timeout(5_000) });
  assert.ok(socket.destroyed, 'the server closed the connection instead of reading the rest');
});

test('not JSON, and JSON that is not an object: ERR_JSON_BODY_INVALID, 400, the message says which', { timeout: 10_000 }, async (t) => {
  const r = await startReader(t);
  for (const [body, message] of [
    ['{not json', /^the body is not JSON \(/],
    ['[1]', /must be a JSON object, not an array/],
    ['null', /must be a JSON object, not null/],
    ['42', /must be a JSON object, not a number/],
    ['"text"', /must be a JSON object, not a string/],
    ['', /^the body is not JSON/],
  ] as const) {
    const socket = await open(r.port, t);
    socket.write(post('/', body));
    const o = await r.next();
    assert.ok('error' in o && o.error instanceof JsonBodyError, `${JSON.stringify(body)} is refused with a JsonBodyError`);
    assert.equal(o.error.code, 'ERR_JSON_BODY_INVALID', JSON.stringify(body));
    assert.equal(o.error.httpStatus, 400);
    assert.match(o.error.message, message);
    const [status] = (await once(socket, 'data')) as [Buffer];
    assert.match(status.toString('latin1'), /^HTTP\/1\.1 400 /, 'the connection lives on to carry the 400');
    socket.destroy();
  }
});

test('emptyIsObject: an empty or all-whitespace body reads as {}', { timeout: 10_000 }, async (t) => {
  const r = await startReader(t);
  for (const body of ['', ' \r\n ']) {
    const socket = await open(r.port, t);
    socket.write(post('/empty-ok', body));
    const o = await r.next();
    assert.ok('value' in o, `${JSON.stringify(body)} resolves`);
    assert.deepEqual(o.value, {});
    socket.destroy();
  }
});
