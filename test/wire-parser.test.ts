import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_HEAD_LIMITS, HttpParseError, buildRequestHead, buildResponseHead, headLimits, isHopByHop, parseRequestHead,
  parseResponseHead,
} from '../src/http/wire/index.js';
import type { HeadLimits, HttpParseErrorCode, RequestHead, ResponseHead } from '../src/http/wire/index.js';
import { InvalidOptionError } from '../src/core/errors.js';

const LIMITS: HeadLimits = { maxHeaderBytes: 8192, maxHeaders: 64 };

/** Bytes placed at offset 5 of a larger buffer whose bytes after `end` look like a head's end. */
function framed(text: string | Buffer): { buf: Buffer; start: number; end: number } {
  const body = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const buf = Buffer.concat([Buffer.from('\r\n\r\nX'), body, Buffer.from('\r\n\r\n\n\r\n\r\n')]);
  return { buf, start: 5, end: 5 + body.length };
}

function req(text: string, limits: HeadLimits = LIMITS): RequestHead | null {
  const { buf, start, end } = framed(text);
  return parseRequestHead(buf, start, end, limits);
}

function res(text: string, method = 'GET', limits: HeadLimits = LIMITS): ResponseHead | null {
  const { buf, start, end } = framed(text);
  return parseResponseHead(buf, start, end, limits, method);
}

function full<T>(value: T | null): T {
  assert.ok(value !== null, 'expected a complete head');
  return value;
}

function rejects(fn: () => unknown, code: HttpParseErrorCode, status?: number): HttpParseError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpParseError, `expected HttpParseError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (status !== undefined) assert.equal(err.status, status);
    return err;
  }
  assert.fail(`expected ${code}`);
}

type Outcome = { ok: unknown } | { code: string } | null;

function outcome(fn: () => unknown): Outcome {
  try {
    const v = fn();
    return v === null ? null : { ok: v };
  } catch (err) {
    assert.ok(err instanceof HttpParseError, String(err));
    return { code: err.code };
  }
}

/** Every prefix of `text` is incomplete or gives exactly the whole text's outcome. */
function samePrefixOutcomes(text: string, parse: (buf: Buffer, start: number, end: number) => unknown): Outcome {
  const { buf, start, end } = framed(text);
  const whole = outcome(() => parse(buf, start, end));
  for (let k = start; k < end; k++) {
    const part = outcome(() => parse(buf, start, k));
    if (part !== null) assert.deepEqual(part, whole, `prefix of ${k - start} bytes of ${JSON.stringify(text)}`);
  }
  return whole;
}

const GET = 'GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept:  */* \t\r\n\r\n';

test('a typical request: fields as received, values trimmed, framing derived once', () => {
  const head = full(req(GET));
  assert.deepEqual(head, {
    method: 'GET', target: '/a?b=c', versionMinor: 1,
    headers: ['Host', 'example.com', 'User-Agent', 't', 'Accept', '*/*'],
    headBytes: Buffer.byteLength(GET), contentLength: -1, chunked: false, connectionClose: false,
    connectionTokens: [], upgrade: undefined, expectContinue: false, host: 'example.com',
  });
});

test('framing fields: Content-Length, chunked, Connection, Upgrade, Expect, HTTP/1.0 defaults', () => {
  const post = full(req('POST /u HTTP/1.1\r\nhost: h\r\ncontent-LENGTH: 0012\r\nExpect: 100-Continue\r\n\r\n'));
  assert.equal(post.contentLength, 12);
  assert.equal(post.expectContinue, true);
  const chunked = full(req('PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tChunked \r\n\r\n'));
  assert.equal(chunked.chunked, true);
  assert.equal(chunked.contentLength, -1);
  const ws = full(req('GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n'));
  assert.equal(ws.upgrade, 'websocket');
  assert.deepEqual(ws.connectionTokens, ['keep-alive', 'upgrade']);
  assert.equal(full(req('GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n')).upgrade, undefined);
  const close = full(req('GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Foo,  CLOSE\r\n\r\n'));
  assert.equal(close.connectionClose, true);
  assert.deepEqual(close.connectionTokens, ['x-foo', 'close']);
  const old = full(req('GET / HTTP/1.0\r\n\r\n'));
  assert.equal(old.versionMinor, 0);
  assert.equal(old.connectionClose, true);
  assert.equal(old.host, undefined);
  assert.equal(full(req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).connectionClose, false);
  assert.equal(full(req('GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n')).expectContinue, false);
  assert.equal(full(req('GET / HTTP/1.0\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n')).upgrade, undefined);
  assert.equal(full(req('GET / HTTP/1.1\r\nHost:\r\nX-Empty:\r\n\r\n')).host, '');
  assert.equal(full(req('GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n')).host, '[::1]:8080');
});

test('request-target forms: origin, absolute, authority for CONNECT, asterisk for OPTIONS', () => {
  assert.equal(full(req('GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n')).target, 'http://a.example/x');
  assert.equal(full(req('CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n')).target, 'a.example:443');
  assert.equal(full(req('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n')).target, '*');
  assert.equal(full(req('GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n')).target, '/caf\xe9');
  assert.equal(full(req('CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n')).target, '[::1]:8443');
  for (const line of ['GET * HTTP/1.1', 'GET a.example:443 HTTP/1.1', 'CONNECT /x HTTP/1.1', 'CONNECT http://a:1/ HTTP/1.1', 'CONNECT a.example HTTP/1.1', 'GET http:/x HTTP/1.1', 'OPTIONS *x HTTP/1.1']) {
    rejects(() => req(`${line}\r\nHost: h\r\n\r\n`), 'ERR_HTTP_BAD_REQUEST_LINE', 400);
  }
});

test('request line: token method, single spaces, no whitespace or CTL in the target, exact version', () => {
  const bad: [string, HttpParseErrorCode][] = [
    ['GET  / HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET / HTTP/1.1 ', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET /a b HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET /a\tb HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET /a\x00b HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET /a\x7fb HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['G(T / HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    [' GET / HTTP/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET /', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET / http/1.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET / HTTP/1.10', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET / HTTP/1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET / HTTP/11.1', 'ERR_HTTP_BAD_REQUEST_LINE'],
    ['GET / HTTP/2.0', 'ERR_HTTP_VERSION_NOT_SUPPORTED'],
    ['GET / HTTP/0.9', 'ERR_HTTP_VERSION_NOT_SUPPORTED'],
    ['GET / HTTP/1.2', 'ERR_HTTP_VERSION_NOT_SUPPORTED'],
    ['PRI * HTTP/2.0', 'ERR_HTTP_VERSION_NOT_SUPPORTED'],
  ];
  for (const [line, code] of bad) {
    const err = rejects(() => req(`${line}\r\nHost: h\r\n\r\n`), code);
    assert.equal(err.status, code === 'ERR_HTTP_VERSION_NOT_SUPPORTED' ? 505 : 400, line);
  }
  assert.equal(full(req('M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n')).method, 'M-SEARCH');
  assert.equal(full(req('get /x HTTP/1.1\r\nHost: h\r\n\r\n')).method, 'get');
});

test('at most one leading empty line is skipped and counted in headBytes', () => {
  const one = full(req(`\r\n${GET}`));
  assert.equal(one.headBytes, Buffer.byteLength(GET) + 2);
  assert.equal(one.target, '/a?b=c');
  rejects(() => req(`\r\n\r\n${GET}`), 'ERR_HTTP_BAD_REQUEST_LINE');
  rejects(() => req(`\n${GET}`), 'ERR_HTTP_BARE_LF');
  rejects(() => req(`\rX${GET}`), 'ERR_HTTP_BARE_CR');
});

test('field lines: token names, colon right after the name, no CTL in values, CRLF only', () => {
  const bad: [string, HttpParseErrorCode][] = [
    ['Bad Name: x', 'ERR_HTTP_BAD_HEADER'],
    ['Bad(Name): x', 'ERR_HTTP_BAD_HEADER'],
    [': empty name', 'ERR_HTTP_BAD_HEADER'],
    ['No-Colon', 'ERR_HTTP_BAD_HEADER'],
    ['X-Name : x', 'ERR_HTTP_BAD_HEADER'],
    ['X-Name\t: x', 'ERR_HTTP_BAD_HEADER'],
    ['X-Nul: a\x00b', 'ERR_HTTP_BAD_HEADER'],
    ['X-Ctl: a\x01b', 'ERR_HTTP_BAD_HEADER'],
    ['X-Del: a\x7fb', 'ERR_HTTP_BAD_HEADER'],
    ['X-Esc: \x1b[31m', 'ERR_HTTP_BAD_HEADER'],
    ['X-Cr: a\rb', 'ERR_HTTP_BARE_CR'],
    ['X-Cr\r: b', 'ERR_HTTP_BAD_HEADER'],
    ['X-Lf: a\nX-Other: b', 'ERR_HTTP_BARE_LF'],
    ['X-Lf\n: b', 'ERR_HTTP_BARE_LF'],
    ['Host2: h\r\n folded', 'ERR_HTTP_OBS_FOLD'],
    ['Host2: h\r\n\tfolded', 'ERR_HTTP_OBS_FOLD'],
  ];
  for (const [line, code] of bad) rejects(() => req(`GET / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`), code, 400);
  rejects(() => req('GET / HTTP/1.1\r\n Host: h\r\n\r\n'), 'ERR_HTTP_OBS_FOLD');
  rejects(() => req('GET / HTTP/1.1\nHost: h\r\n\r\n'), 'ERR_HTTP_BARE_LF');
  rejects(() => req('GET / HTTP/1.1\r\nHost: h\n\n'), 'ERR_HTTP_BARE_LF');
  rejects(() => req('GET / HTTP/1.1\r\nHost: h\r\n\n'), 'ERR_HTTP_BARE_LF');
  rejects(() => req('GET / HTTP/1.1\r\nHost: h\r\n\rX'), 'ERR_HTTP_BARE_CR');
  rejects(() => req('GET / HTTP/1.1\rHost: h\r\n\r\n'), 'ERR_HTTP_BARE_CR');
  const high = full(req('GET / HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9 \x80\xff\r\n\r\n'));
  assert.equal(high.headers[3], 'caf\xe9 \x80\xff');
});

test('Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, host characters only', () => {
  rejects(() => req('GET / HTTP/1.1\r\n\r\n'), 'ERR_HTTP_BAD_HOST', 400);
  rejects(() => req('GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n'), 'ERR_HTTP_BAD_HOST');
  rejects(() => req('GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n'), 'ERR_HTTP_BAD_HOST');
  for (const v of ['a b', 'a/b', 'user@a', 'a\\b', 'a?b', 'a#b', '"a"']) {
    rejects(() => req(`GET / HTTP/1.1\r\nHost: ${v}\r\n\r\n`), 'ERR_HTTP_BAD_HOST');
  }
});

test('Content-Length and Transfer-Encoding rules for requests', () => {
  const cl = (v: string): RequestHead | null => req(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${v}\r\n\r\n`);
  assert.equal(full(cl('9007199254740991')).contentLength, Number.MAX_SAFE_INTEGER);
  assert.equal(full(cl('0')).contentLength, 0);
  for (const v of ['', '-1', '+10', '0x10', '1e2', '1 0', '1,1', '10, 10', '9007199254740992', '99999999999999999999', '1.0', '١']) {
    rejects(() => cl(v), 'ERR_HTTP_BAD_CONTENT_LENGTH', 400);
  }
  rejects(() => req('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'), 'ERR_HTTP_BAD_CONTENT_LENGTH');
  rejects(() => req('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'), 'ERR_HTTP_BAD_CONTENT_LENGTH');
  const te = (v: string): RequestHead | null => req(`POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ${v}\r\n\r\n`);
  for (const v of ['chunked', 'CHUNKED', 'Chunked']) assert.equal(full(te(v)).chunked, true);
  for (const v of ['', 'xchunked', 'chunkedx', 'chunked, identity', 'identity, chunked', 'gzip, chunked', 'chunked, chunked', 'chunked,', 'chunked;q=1', 'identity', '"chunked"', 'chunk ed']) {
    rejects(() => te(v), 'ERR_HTTP_BAD_TRANSFER_ENCODING', 400);
  }
  rejects(() => req('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'), 'ERR_HTTP_BAD_TRANSFER_ENCODING', 400);
});

test('limits: 431 for a head over maxHeaderBytes (complete or not) and for too many fields', () => {
  const limits: HeadLimits = { maxHeaderBytes: 128, maxHeaders: 3 };
  const exact = `GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${'p'.repeat(128 - 16 - 9 - 9 - 2)}\r\n\r\n`;
  assert.equal(Buffer.byteLength(exact), 128);
  assert.equal(full(req(exact, limits)).headBytes, 128);
  rejects(() => req(exact.replace('X-Pad: ', 'X-Pad: p'), limits), 'ERR_HTTP_HEADERS_TOO_LARGE', 431);
  // Incomplete: null below the limit, 431 as soon as the limit is buffered.
  const long = `GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${'p'.repeat(500)}`;
  assert.equal(req(long.slice(0, 127), limits), null);
  rejects(() => req(long.slice(0, 128), limits), 'ERR_HTTP_HEADERS_TOO_LARGE', 431);
  rejects(() => req(`GET /${'a'.repeat(200)}`, limits), 'ERR_HTTP_HEADERS_TOO_LARGE', 431);
  assert.ok(req('GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n', limits));
  rejects(() => req('GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', limits), 'ERR_HTTP_TOO_MANY_HEADERS', 431);
  assert.deepEqual(headLimits(), DEFAULT_HEAD_LIMITS);
  assert.deepEqual(headLimits({ maxHeaders: 10 }), { maxHeaderBytes: 16384, maxHeaders: 10 });
  assert.throws(() => headLimits({ maxHeaderBytes: 10 }), InvalidOptionError);
  assert.throws(() => headLimits({ maxHeader: 10 } as never), /HeadLimits\.maxHeader is not a known option/);
});

test('incremental: every prefix of valid and invalid requests is incomplete or the same outcome', () => {
  const parse = (buf: Buffer, start: number, end: number): unknown => parseRequestHead(buf, start, end, LIMITS);
  const valid = [
    GET,
    `\r\n${GET}`,
    'POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n',
    'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
    'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Empty:\r\n\r\n',
  ];
  for (const text of valid) {
    const whole = samePrefixOutcomes(text, parse);
    assert.ok(whole !== null && 'ok' in whole, `valid: ${JSON.stringify(text)}`);
  }
  const invalid = [
    'GET / HTTP/1.1\r\nHost: h\r\nX: a\nY: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n',
    'GET / HTTP/2.0\r\nHost: h\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET / HTTP/1.1\r\n\r\n',
    'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n',
  ];
  for (const text of invalid) {
    const whole = samePrefixOutcomes(text, parse);
    assert.ok(whole !== null && 'code' in whole, `invalid: ${JSON.stringify(text)}`);
  }
});

test('pipelined requests in one buffer parse one after another', () => {
  const a = 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n';
  const b = 'POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello';
  const c = 'GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
  const buf = Buffer.from(a + b + c + 'GET /4 HT');
  const targets: string[] = [];
  let pos = 0;
  for (;;) {
    const head = parseRequestHead(buf, pos, buf.length, LIMITS);
    if (head === null) break;
    targets.push(head.target);
    pos += head.headBytes + Math.max(head.contentLength, 0);
  }
  assert.deepEqual(targets, ['/1', '/2', '/3']);
  assert.equal(buf.toString('latin1', pos), 'GET /4 HT');
});

test('response heads: status line, framing by RFC 9112 6.3, connection reuse', () => {
  const ok = full(res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'));
  assert.deepEqual(
    [ok.statusCode, ok.reason, ok.contentLength, ok.chunked, ok.bodyUntilClose, ok.noBody, ok.connectionClose],
    [200, 'OK', 5, false, false, false, false],
  );
  assert.equal(full(res('HTTP/1.1 404 Not  Found \r\n\r\n')).reason, 'Not  Found ');
  assert.equal(full(res('HTTP/1.1 204 \r\n\r\n')).reason, '');
  assert.equal(full(res('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).statusCode, 200);
  const head = full(res('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n', 'HEAD'));
  assert.deepEqual([head.noBody, head.contentLength], [true, 0]);
  for (const status of [100, 103, 204, 304]) {
    const r = full(res(`HTTP/1.1 ${status} X\r\nContent-Length: 7\r\n\r\n`));
    assert.deepEqual([r.noBody, r.contentLength, r.chunked, r.bodyUntilClose], [true, 0, false, false], String(status));
  }
  const tunnel = full(res('HTTP/1.1 200 Connection established\r\n\r\n', 'CONNECT'));
  assert.deepEqual([tunnel.tunnel, tunnel.noBody, tunnel.bodyUntilClose], [true, true, false]);
  const up = full(res('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
  assert.deepEqual([up.tunnel, up.upgrade, up.noBody], [true, 'websocket', true]);
  const chunked = full(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'));
  assert.deepEqual([chunked.chunked, chunked.contentLength, chunked.bodyUntilClose], [true, -1, false]);
  const twoFields = full(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'));
  assert.equal(twoFields.chunked, true);
  const gz = full(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'));
  assert.deepEqual([gz.chunked, gz.bodyUntilClose, gz.connectionClose], [false, true, true]);
  const unframed = full(res('HTTP/1.1 200 OK\r\n\r\n'));
  assert.deepEqual([unframed.bodyUntilClose, unframed.connectionClose, unframed.contentLength], [true, true, -1]);
  assert.equal(full(res('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n')).connectionClose, true);
  assert.equal(full(res('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n')).connectionClose, false);
  assert.equal(full(res('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n')).connectionClose, true);
});

test('response heads: strict status line and the same field rules', () => {
  const bad: [string, HttpParseErrorCode][] = [
    ['HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', 'ERR_HTTP_BARE_LF'],
    ['HTTP/1.1  200 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/1.1 20 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/1.1 2000 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/1.1 099 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/1.1 600 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/1.1 200 O\x00K\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/1.1 200 OK\rX\r\n\r\n', 'ERR_HTTP_BARE_CR'],
    ['http/1.1 200 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/2 200 OK\r\n\r\n', 'ERR_HTTP_BAD_STATUS_LINE'],
    ['HTTP/2.0 200 OK\r\n\r\n', 'ERR_HTTP_VERSION_NOT_SUPPORTED'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 'ERR_HTTP_BAD_CONTENT_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'ERR_HTTP_BAD_CONTENT_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'ERR_HTTP_CL_TE'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n', 'ERR_HTTP_CL_TE'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n', 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n', 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'ERR_HTTP_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n', 'ERR_HTTP_OBS_FOLD'],
    ['HTTP/1.1 200 OK\r\nX : a\r\n\r\n', 'ERR_HTTP_BAD_HEADER'],
  ];
  for (const [text, code] of bad) rejects(() => res(text), code);
  const parse = (buf: Buffer, start: number, end: number): unknown => parseResponseHead(buf, start, end, LIMITS, 'GET');
  for (const [text] of bad) samePrefixOutcomes(text, parse);
  const whole = samePrefixOutcomes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n', parse);
  assert.ok(whole !== null && 'ok' in whole);
  rejects(() => res(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(300)}`, 'GET', { maxHeaderBytes: 256, maxHeaders: 10 }), 'ERR_HTTP_HEADERS_TOO_LARGE');
});

test('Keep-Alive hint: any order and case, quoted values, smallest repeat, malformed parts flagged', () => {
  const hint = (v: string): [ResponseHead['keepAliveHint'], boolean] => {
    const r = full(res(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: ${v}\r\n\r\n`));
    return [r.keepAliveHint, r.keepAliveHintMalformed];
  };
  assert.deepEqual(hint('timeout=5, max=100'), [{ timeoutSec: 5, max: 100 }, false]);
  assert.deepEqual(hint('MAX=3,TimeOut=7'), [{ timeoutSec: 7, max: 3 }, false]);
  assert.deepEqual(hint('timeout = 5 ,  max = 9'), [{ timeoutSec: 5, max: 9 }, false]);
  assert.deepEqual(hint('timeout="15"'), [{ timeoutSec: 15 }, false]);
  assert.deepEqual(hint('max=10'), [{ max: 10 }, false]);
  assert.deepEqual(hint('timeout=5, foo=bar, x'), [{ timeoutSec: 5 }, false]);
  assert.deepEqual(hint('timeout=9, timeout=4'), [{ timeoutSec: 4 }, false]);
  assert.deepEqual(hint('timeout=abc, max=5'), [{ max: 5 }, true]);
  assert.deepEqual(hint('timeout=-1'), [{}, true]);
  assert.deepEqual(hint('timeout=1.5'), [{}, true]);
  assert.deepEqual(hint('timeout'), [{}, true]);
  assert.deepEqual(hint('timeout=1234567890'), [{}, true]);
  assert.deepEqual(hint('timeout 5, max=2'), [{ max: 2 }, true]);
  assert.deepEqual(hint('timeout="5'), [{}, true]);
  assert.deepEqual(hint(''), [{}, false]);
  const two = full(res('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nKeep-Alive: max=7\r\nContent-Length: 0\r\n\r\n'));
  assert.deepEqual(two.keepAliveHint, { timeoutSec: 5, max: 7 });
  const none = full(res('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  assert.deepEqual([none.keepAliveHint, none.keepAliveHintMalformed], [undefined, false]);
});

test('isHopByHop: the fixed set, proxy-*, Connection-named fields, never the framing fields or Host', () => {
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'proxy', 'Proxy-Status', 'TE']) {
    assert.equal(isHopByHop(name, []), true, name);
  }
  for (const name of ['transfer-encoding', 'content-length', 'host', 'x-forwarded-for', 'trailers', 'proxyx', 'tes', 'xproxy-a']) {
    assert.equal(isHopByHop(name, []), false, name);
  }
  assert.equal(isHopByHop('x-secret', ['close', 'x-secret']), true);
  assert.equal(isHopByHop('X-Secret', ['x-secret']), true);
  for (const name of ['content-length', 'transfer-encoding', 'host']) assert.equal(isHopByHop(name, [name]), false, name);
});

test('buildRequestHead/buildResponseHead: HTTP/1.1, hop-by-hop dropped, extra appended', () => {
  const h = full(req(
    'GET /x HTTP/1.0\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: 300\r\nX-Hop: 1\r\nTE: trailers\r\n' +
    'Proxy-Authorization: Basic x\r\nProxy: evil\r\nUpgrade: h2c\r\nTrailer: X\r\nContent-Length: 3\r\nAccept: */*\r\n\r\n',
  ));
  assert.equal(
    buildRequestHead(h.method, h.target, h.headers, h.connectionTokens, ['X-Forwarded-For', '10.0.0.1']),
    'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n',
  );
  assert.equal(
    buildRequestHead('POST', '/y', h.headers, h.connectionTokens, ['Transfer-Encoding', 'chunked'], { dropFraming: true, alsoDrop: ['accept'] }),
    'POST /y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  const r = full(res('HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nProxy-Authenticate: Basic\r\nX-A: b\r\n\r\n'));
  assert.equal(
    buildResponseHead(r.statusCode, r.reason, r.headers, r.connectionTokens, ['Via', '1.1 lifeline']),
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\nVia: 1.1 lifeline\r\n\r\n',
  );
  const built = buildRequestHead(h.method, h.target, h.headers, h.connectionTokens, []);
  const again = full(req(built));
  assert.deepEqual(again.headers, ['Host', 'h', 'Content-Length', '3', 'Accept', '*/*']);
});

test('built heads keep obs-text bytes as they were, and a head larger than the build scratch comes out whole', () => {
  const obs = 'caf\u00e9 \u00ff\u0080';
  const h = full(req(`GET /o HTTP/1.1\r\nHost: h\r\nX-Obs: ${obs}\r\n\r\n`));
  const built = buildRequestHead(h.method, h.target, h.headers, h.connectionTokens, ['Via', '1.1 lifeline']);
  assert.equal(built, `GET /o HTTP/1.1\r\nHost: h\r\nX-Obs: ${obs}\r\nVia: 1.1 lifeline\r\n\r\n`);
  assert.deepEqual([...Buffer.from(built, 'latin1').subarray(built.indexOf('caf'), built.indexOf('caf') + 8)], [0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0x80, 0x0d]);
  // 40 fields of 1,000 bytes: past the 16 KiB scratch, so it grows mid-head.
  const fields: string[] = [];
  for (let i = 0; i < 40; i++) fields.push(`X-Big-${i}`, String.fromCharCode(97 + (i % 26)).repeat(1000));
  const big = buildResponseHead(200, 'OK', fields, [], ['Content-Length', '0']);
  let expected = 'HTTP/1.1 200 OK\r\n';
  for (let i = 0; i < fields.length; i += 2) expected += `${fields[i]!}: ${fields[i + 1]!}\r\n`;
  assert.equal(big, `${expected}Content-Length: 0\r\n\r\n`);
  assert.equal(buildResponseHead(204, 'No Content', [], [], []), 'HTTP/1.1 204 No Content\r\n\r\n', 'a small head after a big one');
});

test('decoded names and values are exact across many distinct and repeated fields (string cache)', () => {
  let seed = 1;
  const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const alphabet = 'abcXYZ019-_.~!';
  const word = (len: number): string => Array.from({ length: len }, () => alphabet[random(alphabet.length)]!).join('');
  const pool = Array.from({ length: 40 }, () => [word(1 + random(6)), word(random(80))] as const);
  for (let round = 0; round < 2_000; round++) {
    const fields: string[] = [];
    for (let k = random(8); k >= 0; k--) {
      const [name, value] = random(2) === 0 ? pool[random(pool.length)]! : [word(1 + random(70)), word(random(90))];
      fields.push(`X${name}`, value);
    }
    let text = 'GET / HTTP/1.1\r\nHost: h\r\n';
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]!}: ${fields[i + 1]!}\r\n`;
    const head = full(req(`${text}\r\n`));
    assert.deepEqual(head.headers, ['Host', 'h', ...fields]);
  }
});
