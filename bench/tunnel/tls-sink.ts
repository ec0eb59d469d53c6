/**
 * The TLS floor's receiving end, in its own process as the tunnel client is: opens `--streams`
 * TLS 1.3 connections to the origin's TLS byte server at once, asks each for `--bytes`, discards
 * what arrives, and prints `{ bytes, seconds }` when all have ended. What Node's TLS costs for
 * those bytes with nothing else in the way: the tunnel cannot beat it.
 * Run: node dist/bench/tunnel/tls-sink.js --port P --bytes N --streams K
 */
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

function flag(name: string): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = Number(i >= 0 ? process.argv[i + 1] : Number.NaN);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} needs a positive integer`);
  return value;
}

const port = flag('port');
const bytes = flag('bytes');
const streams = flag('streams');
const started = performance.now();
const counts = await Promise.all(
  Array.from(
    { length: streams },
    () =>
      new Promise<number>((resolve, reject) => {
        let got = 0;
        const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => s.write(`${bytes}\n`));
        s.on('data', (c: Buffer) => (got += c.length));
        s.once('end', () => resolve(got));
        s.once('error', reject);
      }),
  ),
);
const total = counts.reduce((a, b) => a + b, 0);
process.stdout.write(`${JSON.stringify({ bytes: total, seconds: (performance.now() - started) / 1000 })}\n`);
process.exit(total === bytes * streams ? 0 : 1);
