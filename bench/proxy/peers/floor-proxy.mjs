// The proxying floor for S2: a bare node:net proxy doing an S2 request's job with nothing a real
// proxy needs. It accepts, reads until the end of the request head, sends one fixed GET / over an
// idle kept-alive upstream connection (or a new one), reads the response until its Content-Length
// is in, writes it to the client (with `Connection: close`) and closes the client socket once the kernel has it. No parser,
// no header rewriting, no timers, no policy: what Node itself spends per accepted connection plus
// one pooled upstream exchange, and the tail latency Node has doing only that.
// `node floor-proxy.mjs <listenPort> <backendPort>`; prints "ready <port>" once listening.
import { Buffer } from 'node:buffer';
import net from 'node:net';

const [portArg = '0', backendArg = '0'] = process.argv.slice(2);
const backendPort = Number(backendArg);
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: backend\r\n\r\n', 'latin1');
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');
const CLOSE = Buffer.from('Connection: close\r\n', 'latin1');
const idle = [];

/** The response's length from its head (Content-Length), or -1 until the head is in. */
function responseLength(bytes) {
  const end = bytes.indexOf(END_OF_HEAD);
  if (end < 0) return -1;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(bytes.toString('latin1', 0, end));
  return end + 4 + (m === null ? 0 : Number(m[1]));
}

/** A kept-alive upstream connection; `current` is the client it answers now, if any. */
function upstream() {
  const up = net.connect({ port: backendPort, host: '127.0.0.1', noDelay: true });
  up.current = null;
  up.parts = [];
  up.got = 0;
  up.on('data', (chunk) => {
    up.parts.push(chunk);
    up.got += chunk.length;
    const all = up.parts.length === 1 ? chunk : Buffer.concat(up.parts, up.got);
    const length = responseLength(all);
    if (length < 0 || up.got < length) return;
    const client = up.current;
    up.current = null;
    up.parts = [];
    up.got = 0;
    idle.push(up);
    if (client === null) return;
    // The status line, our Connection: close, the rest: one writev.
    const line = all.indexOf('\r\n') + 2;
    client.cork();
    client.write(all.subarray(0, line));
    client.write(CLOSE);
    client.write(all.subarray(line), () => client.destroy());
    client.uncork();
  });
  const gone = () => {
    const i = idle.indexOf(up);
    if (i >= 0) idle.splice(i, 1);
    up.current?.destroy();
  };
  up.on('error', gone);
  up.on('close', gone);
  return up;
}

function exchange(client) {
  const up = idle.pop() ?? upstream();
  up.current = client;
  up.write(REQUEST);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  let seen = 0;
  socket.on('data', (chunk) => {
    seen += chunk.length;
    // One read holds the whole head in this benchmark (wrk); anything longer is not S2's.
    if (chunk.includes(END_OF_HEAD) || seen > 8192) exchange(socket);
  });
  socket.on('error', () => socket.destroy());
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => process.exit(0));
