/**
 * The benchmark's destination, in its own process so it does not share an event loop with the
 * measuring client: an HTTP origin (`GET /bytes/<n>/<seed>` streams n bytes), a TCP echo server,
 * and, given `--cert FILE --key FILE`, a TLS byte server for the floor row (a client sends
 * "<n>\n" and gets n bytes, TLS 1.3 with the same key the tunnel uses). Prints one JSON line
 * with the ports, then serves until killed.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { startOrigin } from '../../test/helpers/tunnel-harness.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const BLOCK = Buffer.alloc(1 << 20, 'x');

/** Write `n` bytes of BLOCK to `socket`, respecting backpressure, then end. */
function pump(socket: net.Socket, n: number): void {
  let left = n;
  const more = (): void => {
    while (left > 0) {
      const chunk = left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left);
      left -= chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', more);
        return;
      }
    }
    socket.end();
  };
  more();
}

const origin = await startOrigin();
const echo = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => undefined);
  s.pipe(s);
});
await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
let tlsPort = 0;
const cert = flag('cert');
const key = flag('key');
if (cert !== undefined && key !== undefined) {
  const server = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.3' }, (s) => {
    s.on('error', () => undefined);
    let head = '';
    const onData = (c: Buffer): void => {
      head += c.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) return;
      s.off('data', onData);
      pump(s, Number(head.slice(0, nl)));
    };
    s.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tlsPort = (server.address() as net.AddressInfo).port;
}
process.stdout.write(`${JSON.stringify({ event: 'listening', http: origin.port, echo: (echo.address() as net.AddressInfo).port, tls: tlsPort })}\n`);
