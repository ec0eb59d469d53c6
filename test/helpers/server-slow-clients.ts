/**
 * Slow-header clients, run in a child process so their work does not share the server's event
 * loop: `node server-slow-clients.js <port> <count>` opens `count` connections (in batches, under
 * the listen backlog), sends one header byte a second on each, and prints one JSON line: for each
 * connection the ms from connect to a 408, and to the close.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface SlowClientsReport {
  count: number;
  connected: number;
  answered408: number;
  /** ms from connect to the 408, per answered connection. */
  answerMs: number[];
  /** ms from connect to the close, per connection. */
  closeMs: number[];
  /** Connections that failed (reset, refused) before any answer. */
  errors: number;
}

const HEADER = 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(200);

async function main(port: number, count: number): Promise<void> {
  const report: SlowClientsReport = { count, connected: 0, answered408: 0, answerMs: [], closeMs: [], errors: 0 };
  const sockets: { socket: net.Socket; sent: number; t0: number; answered: boolean }[] = [];
  let closed = 0;
  let done!: () => void;
  const allClosed = new Promise<void>((resolve) => (done = resolve));
  const open = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      const entry = { socket, sent: 0, t0: 0, answered: false };
      socket.setEncoding('latin1');
      socket.once('connect', () => {
        entry.t0 = performance.now();
        report.connected += 1;
        socket.write(HEADER[0] as string);
        entry.sent = 1;
        sockets.push(entry);
        resolve();
      });
      socket.on('data', (d: string) => {
        if (!entry.answered && d.startsWith('HTTP/1.1 408')) {
          entry.answered = true;
          report.answered408 += 1;
          report.answerMs.push(performance.now() - entry.t0);
          socket.end();
        }
      });
      socket.on('error', () => {
        if (!entry.answered) report.errors += 1;
      });
      socket.once('close', () => {
        report.closeMs.push(performance.now() - entry.t0);
        closed += 1;
        if (closed === count) done();
        resolve();
      });
    });
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, open));
  }
  // One byte a second on each connection, spread over the second in 10 slices.
  const ticker = setInterval(() => {
    const slice = Math.floor((performance.now() / 100) % 10);
    for (let i = slice; i < sockets.length; i += 10) {
      const s = sockets[i];
      if (s === undefined || s.answered || s.socket.destroyed || s.sent >= HEADER.length) continue;
      s.socket.write(HEADER[s.sent] as string);
      s.sent += 1;
    }
  }, 100);
  process.stdout.write('connected\n');
  const limit = setTimeout(done, 60_000);
  await allClosed;
  clearInterval(ticker);
  clearTimeout(limit);
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void main(Number(process.argv[2]), Number(process.argv[3]));
}
