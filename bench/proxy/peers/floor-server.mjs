// The floor for S2: a bare node:net server doing an S2 request's job with no proxying, no parser
// and no policy. It accepts, reads until the end of the request head, writes a fixed 100-byte
// response with `Connection: close` and closes the socket once the kernel has the response (no
// shutdown and wait for the client's FIN: the proxy closes such a connection at once too when the
// client sent nothing more). Its CPU per request is what Node itself spends per accepted
// connection; the proxy's cost above it is the proxy's own.
// `node floor-server.mjs <listenPort>`; prints "ready <port>" once listening.
import { Buffer } from 'node:buffer';
import net from 'node:net';

const [portArg = '0'] = process.argv.slice(2);
const BODY = 'x'.repeat(100);
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`, 'latin1');
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');

const server = net.createServer({ noDelay: true }, (socket) => {
  let seen = 0;
  socket.on('data', (chunk) => {
    seen += chunk.length;
    // One read holds the whole head in this benchmark; a head split across reads still ends
    // with the blank line in its last piece, or is longer than any wrk sends.
    if (chunk.includes(END_OF_HEAD) || seen > 8192) socket.write(RESPONSE, () => socket.destroy());
  });
  socket.on('error', () => socket.destroy());
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => process.exit(0));
