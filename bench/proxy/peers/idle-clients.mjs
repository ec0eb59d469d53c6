// S4 client: open `count` keep-alive connections to 127.0.0.1:<port>, send one GET on each, read
// the whole response (by Content-Length or chunked end), then hold every connection open and
// idle until killed. Opens them in batches so the proxy is never flooded with SYNs.
// `node idle-clients.mjs <port> <count>`; prints "idle <held> <failed>" when done.
import net from 'node:net';
import { setInterval } from 'node:timers';

const [portArg = '0', countArg = '0'] = process.argv.slice(2);
const port = Number(portArg);
const total = Number(countArg);
const BATCH = 200;
const held = [];
let failed = 0;

function complete(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = buf.slice(0, end).toLowerCase();
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (cl) return buf.length - end - 4 >= Number(cl[1]);
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) return buf.endsWith('0\r\n\r\n');
  return false;
}

function one() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    let buf = '';
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (ok) held.push(socket);
      else {
        failed += 1;
        socket.destroy();
      }
      resolve();
    };
    socket.setTimeout(20_000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.once('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    socket.on('data', (d) => {
      if (done) return;
      buf += d;
      if (complete(buf)) {
        socket.setTimeout(0);
        finish(buf.startsWith('HTTP/1.1 2'));
      }
    });
  });
}

for (let i = 0; i < total; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, total - i) }, one));
process.stdout.write(`idle ${held.length} ${failed}\n`);
setInterval(() => undefined, 60_000);
process.on('SIGTERM', () => process.exit(0));
