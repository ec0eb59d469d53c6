/**
 * The bare Node relay: the tunnel's job done the idiomatic Node way with nothing of the tunnel's
 * own, two processes as the tunnel's client and server are. The client end accepts plain TCP and opens one
 * TLS 1.3 connection per accepted connection to the server end, which opens a plain TCP connection
 * to the target; bytes are moved with `pipe` both ways. No SOCKS, no framing, no multiplexing, no
 * flow control beyond TCP's: what Node's streams, sockets and TLS cost for the same bytes on the
 * same path when nothing is done about their allocations (each read a new buffer).
 *
 * Run: node dist/bench/tunnel/node-relay.js server --target PORT --cert FILE --key FILE
 *      node dist/bench/tunnel/node-relay.js client --server PORT
 * Each prints one JSON line `{ "event": "listening", "port": N }` and relays until killed.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

function flag(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (value === undefined) throw new Error(`node-relay: --${name} is required`);
  return value;
}

/** Pipe both ways; either side closing or failing closes the other. */
function relay(a: net.Socket, b: net.Socket): void {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

const role = process.argv[2];
let listening: net.Server;
if (role === 'server') {
  const target = Number(flag('target'));
  listening = tls.createServer({ cert: readFileSync(flag('cert')), key: readFileSync(flag('key')), minVersion: 'TLSv1.3' }, (socket) => {
    const out = net.connect({ port: target, host: '127.0.0.1', noDelay: true });
    relay(socket, out);
  });
} else if (role === 'client') {
  const server = Number(flag('server'));
  listening = net.createServer((socket) => {
    socket.setNoDelay(true);
    const out = tls.connect({ port: server, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    out.setNoDelay(true);
    relay(socket, out);
  });
} else {
  throw new Error('node-relay: the first argument is server or client');
}
listening.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: (listening.address() as net.AddressInfo).port })}\n`);
});
