/**
 * Child process for the server benchmark: open `count` keep-alive connections to a server, send
 * one request on each, read the response, and keep them all open and idle until killed.
 * `node idle-clients.js <port> <count>`; prints "idle <n>" when all are idle.
 */
import net from 'node:net';

const [port = '0', count = '0'] = process.argv.slice(2);
const total = Number(count);
const held: net.Socket[] = [];
let ok = 0;

function one(): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.setEncoding('latin1');
    let buf = '';
    socket.on('error', () => resolve());
    socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    socket.on('data', (d: string) => {
      buf += d;
      if (buf.includes('hello world')) {
        ok += 1;
        held.push(socket);
        resolve();
      }
    });
    socket.once('close', () => resolve());
  });
}

async function main(): Promise<void> {
  for (let i = 0; i < total; i += 250) await Promise.all(Array.from({ length: Math.min(250, total - i) }, one));
  process.stdout.write(`idle ${ok}\n`);
  setInterval(() => undefined, 60_000);
}
void main();
