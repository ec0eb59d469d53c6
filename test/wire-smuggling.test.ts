import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { ChunkedScanner, HttpParseError, parseRequestHead } from '../src/http/wire/index.js';
import type { HeadLimits, HttpParseErrorCode } from '../src/http/wire/index.js';

const LIMITS: HeadLimits = { maxHeaderBytes: 8192, maxHeaders: 64 };

interface Framed {
  /** Targets of the requests whose head and body were read completely. */
  targets: string[];
  /** The code that stopped the stream, or undefined if it ended cleanly between messages. */
  error: string | undefined;
  /** Bytes left unread (a partial message). */
  rest: number;
}

/** Read a client byte stream the way the proxy does: head, then body by its framing, repeat. */
function frame(stream: Buffer, cuts: readonly number[] = []): Framed {
  const targets: string[] = [];
  const scanner = new ChunkedScanner();
  let pos = 0;
  const ends = [...cuts.filter((c) => c < stream.length), stream.length];
  let available = ends.shift()!;
  try {
    for (;;) {
      let head = parseRequestHead(stream, pos, available, LIMITS);
      while (head === null && ends.length > 0) {
        available = ends.shift()!;
        head = parseRequestHead(stream, pos, available, LIMITS);
      }
      if (head === null) return { targets, error: undefined, rest: available - pos };
      let bodyEnd: number;
      if (head.chunked) {
        scanner.reset();
        let from = pos + head.headBytes;
        bodyEnd = scanner.push(stream, from, available);
        while (bodyEnd < 0 && ends.length > 0) {
          from = available;
          available = ends.shift()!;
          bodyEnd = scanner.push(stream, from, available);
        }
        if (bodyEnd < 0) return { targets, error: undefined, rest: available - pos };
      } else {
        bodyEnd = pos + head.headBytes + Math.max(head.contentLength, 0);
        while (bodyEnd > available && ends.length > 0) available = ends.shift()!;
        if (bodyEnd > available) return { targets, error: undefined, rest: available - pos };
      }
      targets.push(head.target);
      pos = bodyEnd;
      if (head.connectionClose) return { targets, error: undefined, rest: available - pos };
    }
  } catch (err) {
    assert.ok(err instanceof HttpParseError, String(err));
    return { targets, error: err.code, rest: available - pos };
  }
}

const OK = 'GET /ok HTTP/1.1\r\nHost: h\r\n\r\n';
const SMUGGLED = 'GET /admin HTTP/1.1\r\nHost: h\r\n\r\n';

/** [name, request bytes whose body hides SMUGGLED, expected code]. */
const ATTACKS: [string, string, HttpParseErrorCode][] = [
  ['CL.TE', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_CL_TE'],
  ['TE.CL', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n21\r\n${SMUGGLED.slice(0, 33)}\r\n0\r\n\r\n`, 'ERR_HTTP_CL_TE'],
  ['TE: xchunked', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE space before colon', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HEADER'],
  ['TE chunked + TE x', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE chunked twice', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE chunked, identity', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE identity, chunked', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE quoted', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE vertical tab', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HEADER'],
  ['TE in HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE obs-fold', `POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_OBS_FOLD'],
  ['TE obs-fold value', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
  ['TE underscore', `POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HEADER'],
  ['CL underscore', `POST / HTTP/1.1\r\nHost: h\r\nContent_Length: 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HEADER'],
  ['CL duplicate identical', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL duplicate different', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL list', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0, 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL signed +', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL signed -', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL +10', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +10\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL 0x10', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL 1e2', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1e2\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL space inside', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3 3\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL overflow', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551649\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CONTENT_LENGTH'],
  ['CL space before colon', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HEADER'],
  ['bare CR in a value', `POST / HTTP/1.1\r\nHost: h\r\nX: a\rContent-Length: 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BARE_CR'],
  ['bare CR line end', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 33\r\r\n${SMUGGLED}`, 'ERR_HTTP_BARE_CR'],
  ['LF-only lines', `POST / HTTP/1.1\nHost: h\nContent-Length: 33\n\n${SMUGGLED}`, 'ERR_HTTP_BARE_LF'],
  ['LF-only field line', `POST / HTTP/1.1\r\nHost: h\r\nX: y\nContent-Length: 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BARE_LF'],
  ['LF-only end of head', `POST / HTTP/1.1\r\nHost: h\r\n\n${SMUGGLED}`, 'ERR_HTTP_BARE_LF'],
  ['NUL in a value', `POST / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\nContent-Length: 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HEADER'],
  ['space in target', `GET /a HTTP/1.1 /b HTTP/1.1\r\nHost: h\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_REQUEST_LINE'],
  ['no Host', `POST / HTTP/1.1\r\nContent-Length: 33\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HOST'],
  ['two Hosts', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_HOST'],
  ['chunk size 0x', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x21\r\n${SMUGGLED}\r\n0\r\n\r\n`, 'ERR_HTTP_BAD_CHUNK'],
  ['chunk size overflow', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000021\r\n${SMUGGLED}\r\n0\r\n\r\n`, 'ERR_HTTP_BAD_CHUNK'],
  ['chunk size trailing space', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0 \r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CHUNK'],
  ['chunk size LF only', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\n${SMUGGLED}`, 'ERR_HTTP_BAD_CHUNK'],
  ['chunk ext LF', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;\nxx\r\n21\r\n${SMUGGLED}\r\n0\r\n\r\n`, 'ERR_HTTP_BAD_CHUNK'],
  ['chunk data overrun', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nAB\r\n0\r\n\r\n${SMUGGLED}`, 'ERR_HTTP_BAD_CHUNK'],
  ['chunk end LF only', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n${SMUGGLED}`, 'ERR_HTTP_BAD_TRAILER'],
];

test('smuggling corpus: every attack is refused with its code and status 400, before the hidden request', () => {
  for (const [name, attack, code] of ATTACKS) {
    const alone = frame(Buffer.from(attack, 'latin1'));
    assert.equal(alone.error, code, name);
    assert.deepEqual(alone.targets, [], name);
    const after = frame(Buffer.from(OK + attack, 'latin1'));
    assert.equal(after.error, code, name);
    assert.deepEqual(after.targets, ['/ok'], `${name}: only the request before the attack was read`);
  }
  for (const [name, attack] of ATTACKS) {
    try {
      frame(Buffer.from(attack, 'latin1'));
    } catch (err) {
      assert.fail(`${name}: ${String(err)}`);
    }
    const statuses = new Set<number>();
    try {
      const buf = Buffer.from(attack, 'latin1');
      const head = parseRequestHead(buf, 0, buf.length, LIMITS);
      if (head?.chunked === true) new ChunkedScanner().push(buf, head.headBytes, buf.length);
    } catch (err) {
      if (err instanceof HttpParseError) statuses.add(err.status);
    }
    assert.deepEqual([...statuses], [400], name);
  }
});

test('smuggling corpus: the outcome does not depend on how the bytes are split', () => {
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const [name, attack] of ATTACKS) {
    const bytes = Buffer.from(OK + attack, 'latin1');
    const read = (cuts: readonly number[]): [string[], string | undefined] => {
      const framed = frame(bytes, cuts);
      return [framed.targets, framed.error];
    };
    const whole = read([]);
    assert.deepEqual(read(Array.from({ length: bytes.length }, (_, i) => i)), whole, `${name} byte by byte`);
    for (let trial = 0; trial < 20; trial++) {
      const cuts = Array.from({ length: 1 + Math.floor(random() * 5) }, () => Math.floor(random() * bytes.length)).sort((a, b) => a - b);
      assert.deepEqual(read(cuts), whole, `${name} cut at ${cuts.join(',')}`);
    }
  }
});

test('accepted lookalikes: tab as OWS, no space, any case, OWS around the value', () => {
  for (const line of ['Transfer-Encoding:\tchunked', 'Transfer-Encoding:chunked', 'transfer-encoding: CHUNKED', 'Transfer-Encoding:  chunked \t']) {
    const stream = Buffer.from(`POST / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n5\r\nhello\r\n0\r\n\r\n${OK}`);
    assert.deepEqual(frame(stream), { targets: ['/', '/ok'], error: undefined, rest: 0 }, line);
  }
  const cl = Buffer.from(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\t5 \r\n\r\nhello${OK}`);
  assert.deepEqual(frame(cl), { targets: ['/', '/ok'], error: undefined, rest: 0 });
});

test('over a real socket: a server on the wire layer answers 400 and closes, never reading the hidden request', async () => {
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const framed = frame(buffered);
      // `buffered` always starts at an unread message, so every target framed here is new.
      for (const target of framed.targets) {
        seen.push(target);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      }
      buffered = buffered.subarray(buffered.length - framed.rest);
      if (framed.error !== undefined) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  try {
    for (const [name, attack] of ATTACKS.slice(0, 8)) {
      seen.length = 0;
      const client = net.connect(port, '127.0.0.1');
      client.write(OK);
      // Split the attack over two writes to exercise partial reads.
      client.write(attack.slice(0, 20));
      setTimeout(() => client.write(attack.slice(20)), 5).unref();
      const replies: Buffer[] = [];
      client.on('data', (d: Buffer) => replies.push(d));
      await once(client, 'end');
      client.destroy();
      const text = Buffer.concat(replies).toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*HTTP\/1\.1 400 Bad Request\r\n/, name);
      assert.deepEqual(seen, ['/ok'], `${name}: /admin never reached`);
    }
  } finally {
    server.close();
  }
});
