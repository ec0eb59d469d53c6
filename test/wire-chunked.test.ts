import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedScanner, HttpParseError } from '../src/http/wire/index.js';
import type { ChunkedScannerOptions, HttpParseErrorCode } from '../src/http/wire/index.js';
import { InvalidOptionError } from '../src/core/errors.js';

/** Feed `text` in the given pieces; return [end index in the whole text or -1, dataBytes]. */
function scan(text: string | Buffer, cuts: readonly number[] = [], options?: ChunkedScannerOptions): [number, number] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  // Put the body inside a larger buffer with trailing bytes that would end a body, to catch reads past `end`.
  const buf = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('0\r\n\r\n')]);
  const scanner = new ChunkedScanner(options);
  const points = [...cuts, bytes.length];
  let from = 0;
  for (const to of points) {
    const stop = scanner.push(buf, 2 + from, 2 + to);
    if (stop >= 0) {
      assert.equal(scanner.done, true);
      return [stop - 2, scanner.dataBytes];
    }
    from = to;
  }
  assert.equal(scanner.done, false);
  return [-1, scanner.dataBytes];
}

function rejects(text: string, code: HttpParseErrorCode = 'ERR_HTTP_BAD_CHUNK', options?: ChunkedScannerOptions): HttpParseError {
  try {
    scan(text, [], options);
  } catch (err) {
    assert.ok(err instanceof HttpParseError, String(err));
    assert.equal(err.code, code, `${JSON.stringify(text)}: ${err.message}`);
    assert.equal(err.status, 400);
    return err;
  }
  assert.fail(`expected ${code} for ${JSON.stringify(text)}`);
}

const VALID = [
  '0\r\n\r\n',
  '5\r\nhello\r\n0\r\n\r\n',
  'a\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n',
  'A\r\n0123456789\r\n000\r\n\r\n',
  '00005\r\nhello\r\n0\r\n\r\n',
  '5;name\r\nhello\r\n0;last=yes\r\n\r\n',
  '5 ;a=b\r\nhello\r\n0\r\n\r\n',
  '5\t; a = b ; c="quoted \\" value";d\r\nhello\r\n0\r\n\r\n',
  '5;a="x"\r\nhello\r\n0\r\n\r\n',
  '4\r\n\r\n\r\n\r\n0\r\n\r\n',
  '5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Empty:\r\nX-Sp:  a b \r\n\r\n',
];

test('valid bodies: the end is found exactly and data bytes are counted', () => {
  assert.deepEqual(scan('0\r\n\r\n'), [5, 0]);
  assert.deepEqual(scan('5\r\nhello\r\n0\r\n\r\n'), [15, 5]);
  assert.deepEqual(scan('a\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n'), [26, 11]);
  for (const text of VALID) assert.equal(scan(text)[0], text.length, JSON.stringify(text));
  const big = `${(70_000).toString(16)}\r\n${'z'.repeat(70_000)}\r\n0\r\n\r\n`;
  assert.deepEqual(scan(big), [big.length, 70_000]);
});

test('valid bodies split at every position (and at every pair of positions) give the same end', () => {
  for (const text of VALID) {
    const whole = scan(text);
    for (let k = 0; k <= text.length; k++) assert.deepEqual(scan(text, [k]), whole, `${JSON.stringify(text)} cut at ${k}`);
    if (text.length <= 40) {
      for (let a = 0; a <= text.length; a++) {
        for (let b = a; b <= text.length; b++) assert.deepEqual(scan(text, [a, b]), whole);
      }
    }
  }
});

test('valid bodies fed byte by byte and in random splits give the same end', () => {
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const body = '5\r\nhello\r\n00a;x="y;z"\r\n0123456789\r\n4 ; k=v\r\n\r\n\r\n\r\n1\r\n!\r\n0;end\r\nT: 1\r\nU:\r\n\r\n';
  const whole = scan(body);
  assert.equal(whole[0], body.length);
  assert.deepEqual(scan(body, Array.from({ length: body.length }, (_, i) => i)), whole);
  for (let trial = 0; trial < 300; trial++) {
    const cuts = Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * body.length)).sort((x, y) => x - y);
    assert.deepEqual(scan(body, cuts), whole, `cuts ${cuts.join(',')}`);
  }
});

test('bytes after the end are not consumed: pipelined messages follow', () => {
  const body = '5\r\nhello\r\n0\r\n\r\n';
  const next = 'GET / HTTP/1.1\r\n';
  const buf = Buffer.from(body + next);
  const scanner = new ChunkedScanner();
  assert.equal(scanner.push(buf, 0, buf.length), body.length);
  assert.equal(scanner.push(buf, body.length, buf.length), body.length, 'done: returns start until reset');
  scanner.reset();
  assert.equal(scanner.done, false);
  assert.equal(scanner.dataBytes, 0);
  const second = Buffer.from('3\r\nabc\r\n0\r\n\r\n');
  assert.equal(scanner.push(second, 0, second.length), second.length);
  assert.equal(scanner.dataBytes, 3);
});

test('incomplete bodies return -1', () => {
  for (const text of ['', '5', '5\r', '5\r\nhel', '5\r\nhello', '5\r\nhello\r', '5\r\nhello\r\n0\r\n', '0\r\nX: y\r\n', '0\r\n\r', '5;a="b']) {
    assert.equal(scan(text)[0], -1, JSON.stringify(text));
  }
});

test('invalid chunk sizes: non-hex, empty, signs, prefixes, whitespace, overflow', () => {
  for (const text of [
    'g\r\n', '-5\r\n', '+5\r\n', '0x5\r\nhello\r\n', '\r\n', ' 5\r\n', '\t5\r\n', '5 \r\n', '5\t\r\n', '5 5\r\n', '5_0\r\n',
    '5\rX', '5\n', '\n', '5\r\nhello\r\n\r\n', '1g2\r\n', '5h\r\n', '5.0\r\n', 'ffffffffffffffffff\r\n',
  ]) {
    rejects(text);
  }
  rejects('20000000000000\r\n'); // 2^53: overflow
  assert.equal(scan('1fffffffffffff\r\n')[0], -1, '2^53-1 is accepted (and waited for)');
  rejects('00000000000000001\r\n'); // 17 digits > maxChunkSizeDigits
  assert.equal(scan('00000000000000001\r\nx\r\n0\r\n\r\n', [], { maxChunkSizeDigits: 17 })[1], 1);
  rejects('0005\r\n', 'ERR_HTTP_BAD_CHUNK', { maxChunkSizeDigits: 3 });
});

test('chunk data must be followed by exactly CRLF', () => {
  rejects('5\r\nhelloX\r\n0\r\n\r\n');
  rejects('5\r\nhello\n0\r\n\r\n');
  rejects('5\r\nhello\rX0\r\n\r\n');
  rejects('5\r\nhello world\r\n0\r\n\r\n');
  rejects('5\r\nhello\r\n0\r\n\rX');
});

test('chunk extensions: strict syntax and a length limit', () => {
  for (const text of [
    '5;\r\n', '5;=v\r\n', '5;a=\r\n', '5;a b\r\n', '5;a=b c\r\n', '5;a= \r\n', '5;a=b \r\n', '5;a \r\n', '5;a="b" \r\n',
    '5;a="b\x00"\r\n', '5;a="b\r\n', '5;a="x"y\r\n', '5;a=b\x01\r\n', '5;a=b;\r\n', '5;a=b\n',
  ]) {
    rejects(text);
  }
  const ext = `5;${'e'.repeat(100)}\r\nhello\r\n0\r\n\r\n`;
  assert.equal(scan(ext)[0], ext.length);
  rejects(ext, 'ERR_HTTP_BAD_CHUNK', { maxChunkExtBytes: 50 });
  rejects('5;a\r\nhello\r\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', { maxChunkExtBytes: 0 });
  // The limit is per size line, not per body.
  const many = `${'1;abcdefgh\r\nx\r\n'.repeat(20)}0\r\n\r\n`;
  assert.equal(scan(many, [], { maxChunkExtBytes: 12 })[0], many.length);
});

test('trailers: field-line syntax and a size limit', () => {
  for (const text of [
    '0\r\nX : y\r\n\r\n', '0\r\n y\r\n\r\n', '0\r\nX: a\r\n\tb\r\n\r\n', '0\r\nX\r\n\r\n', '0\r\n:y\r\n\r\n',
    '0\r\nX: a\x00b\r\n\r\n', '0\r\nX: a\nY: b\r\n\r\n', '0\r\nX: a\rb\r\n\r\n', '0\r\nX(: y\r\n\r\n', '0\r\n\n',
  ]) {
    rejects(text, text === '0\r\n\n' ? 'ERR_HTTP_BAD_TRAILER' : 'ERR_HTTP_BAD_TRAILER');
  }
  const trailers = `0\r\n${'X-T: 1234567890\r\n'.repeat(10)}\r\n`;
  assert.equal(scan(trailers)[0], trailers.length);
  rejects(trailers, 'ERR_HTTP_BAD_TRAILER', { maxTrailerBytes: 100 });
  rejects('0\r\nX: y\r\n\r\n', 'ERR_HTTP_BAD_TRAILER', { maxTrailerBytes: 0 });
});

test('a scanner that threw stays failed until reset', () => {
  const scanner = new ChunkedScanner();
  const bad = Buffer.from('zz\r\n');
  assert.throws(() => scanner.push(bad, 0, bad.length), HttpParseError);
  const good = Buffer.from('0\r\n\r\n');
  assert.throws(() => scanner.push(good, 0, good.length), /already found invalid/);
  scanner.reset();
  assert.equal(scanner.push(good, 0, good.length), good.length);
});

test('options are validated by name', () => {
  assert.throws(() => new ChunkedScanner({ maxChunkSizeDigits: 0 }), InvalidOptionError);
  assert.throws(() => new ChunkedScanner({ maxTrailerBytes: -1 }), /ChunkedScanner\.maxTrailerBytes must be an integer/);
  assert.throws(() => new ChunkedScanner({ maxChunkSize: 1 } as never), /not a known option/);
});
