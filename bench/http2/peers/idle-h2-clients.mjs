// Idle-connection client for bench/http2: open `count` HTTP/2 connections in clear (h2c, prior
// knowledge) to 127.0.0.1:<port>, make one GET / on each and read its whole response, then hold
// every connection open and idle until killed. A raw-socket client, so that it sends exactly the
// preface, one SETTINGS, the SETTINGS ACK, one request and PING ACKs, and nothing else: no
// WINDOW_UPDATE, no PING of its own, the same bytes to every server.
// Opens them in batches so the server is never flooded with SYNs.
// `node idle-h2-clients.mjs <port> <count>`; prints "idle <held> <failed>" when done.
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { setInterval } from 'node:timers';

const [portArg = '0', countArg = '0'] = process.argv.slice(2);
const port = Number(portArg);
const total = Number(countArg);
const BATCH = 200;
const held = [];
let failed = 0;
let firstFailure = '';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

function frame(type, flags, stream, payload) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

// HPACK, static table only: :method GET (2), :scheme http (6), :path / (4), then :authority
// (name index 1) as a literal without indexing.
const authority = Buffer.from(`127.0.0.1:${port}`, 'latin1');
const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x01, authority.length]), authority]);
const OPENING = Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0)), frame(HEADERS, END_STREAM | END_HEADERS, 1, block)]);

/** Is the first field of a response header block `:status: 200` (indexed, or literal on name 8)? */
function status200(fragment) {
  if (fragment[0] === 0x88) return true;
  const literal = fragment[0] === 0x48 || fragment[0] === 0x08 || fragment[0] === 0x18;
  return literal && fragment[1] === 3 && fragment.subarray(2, 5).toString('latin1') === '200';
}

function one() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    let ok200 = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      if (ok) {
        socket.setTimeout(0);
        held.push(socket);
      } else {
        failed += 1;
        firstFailure ||= why;
        socket.destroy();
      }
      resolve();
    };
    socket.setTimeout(20_000, () => finish(false, 'timeout'));
    socket.on('error', (err) => finish(false, err.code ?? err.message));
    socket.once('close', () => finish(false, 'closed by the server'));
    socket.once('connect', () => socket.write(OPENING));
    socket.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const flags = buf[4];
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        // Keep answering the server while idle: an unanswered SETTINGS or PING would close it.
        if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
        else if (type === PING && !(flags & ACK)) socket.write(frame(PING, ACK, 0, payload));
        if (done) continue;
        if (type === GOAWAY) finish(false, `GOAWAY ${payload.length >= 8 ? payload.readUInt32BE(4) : '?'}`);
        else if (type === RST_STREAM && stream === 1) finish(false, 'RST_STREAM');
        else if (type === HEADERS && stream === 1) {
          let start = flags & PADDED ? 1 : 0;
          if (flags & PRIORITY) start += 5;
          if (!ok200) ok200 = status200(payload.subarray(start));
          if (!ok200) finish(false, 'status not 200');
          else if (flags & END_STREAM) finish(true, '');
        } else if (type === DATA && stream === 1 && flags & END_STREAM) finish(ok200, 'DATA before HEADERS');
      }
    });
  });
}

for (let i = 0; i < total; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, total - i) }, one));
if (firstFailure) process.stderr.write(`idle-h2-clients: first failure: ${firstFailure}\n`);
process.stdout.write(`idle ${held.length} ${failed}\n`);
setInterval(() => undefined, 60_000);
process.on('SIGTERM', () => process.exit(0));
