/**
 * ChunkedDecoder: the data of a (scanner-validated) chunked body, with sizes, extensions and
 * trailers stripped, for every split of the bytes into two or three reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder } from '../src/http/wire/index.js';

function decode(bytes: Buffer, cuts: readonly number[]): { data: string; done: boolean } {
  const decoder = new ChunkedDecoder();
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    decoder.decode(bytes.subarray(from, to), (piece) => out.push(Buffer.from(piece)));
    from = to;
  }
  return { data: Buffer.concat(out).toString('latin1'), done: decoder.done };
}

const CASES: readonly [string, string][] = [
  ['5\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['5;ext=1;q="a;b"\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', 'hello world'],
  ['A\r\n0123456789\r\n0;last\r\nX-Trailer: v\r\nY: w\r\n\r\n', '0123456789'],
  ['0\r\n\r\n', ''],
  ['00f\r\n0123456789abcde\r\n0\r\n\r\n', '0123456789abcde'],
];

test('every split of each body into two and three reads gives its data exactly and ends it', () => {
  for (const [text, want] of CASES) {
    const bytes = Buffer.from(text, 'latin1');
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(decode(bytes, [i]), { data: want, done: true }, `${JSON.stringify(text)} cut at ${i}`);
      for (let j = i; j <= bytes.length; j += 3) assert.deepEqual(decode(bytes, [i, j]), { data: want, done: true }, `${JSON.stringify(text)} cut at ${i}, ${j}`);
    }
  }
});

test('not done before the final CRLF; bytes after the end are ignored', () => {
  const partial = decode(Buffer.from('3\r\nabc\r\n0\r\n', 'latin1'), []);
  assert.deepEqual(partial, { data: 'abc', done: false });
  assert.deepEqual(decode(Buffer.from('3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n', 'latin1'), []), { data: 'abc', done: true });
});
