/**
 * The benchmark's server process (bench/agent/run.ts starts it, pinned to CPU 1 when taskset
 * exists). Two roles on 127.0.0.1, ports printed as one JSON line on stdout:
 * - `throughput`: an http.Server answering every request with 100 bytes, keep-alive 60 s;
 * - `race <lanes> <idleCloseMs>`: `lanes` raw HTTP/1.1 servers that close each connection after
 *   exactly `idleCloseMs` ms idle after a response (no Keep-Alive hint), as in
 *   test/agent-race.test.ts. A new connection is not timed before its first request: closing it
 *   then would be a header timeout, not the keep-alive race, and no client could avoid it.
 * It exits when stdin closes (the parent died or finished).
 */
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';

const BODY = Buffer.alloc(100, 'x');

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function rawServer(idleCloseMs: number): Server {
  return createTcpServer((socket) => {
    socket.on('error', () => undefined);
    let pending = '';
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      idle = setTimeout(() => socket.destroy(), idleCloseMs);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (idle !== undefined) clearTimeout(idle);
      pending += chunk;
      let end = pending.indexOf('\r\n\r\n');
      while (end !== -1) {
        pending = pending.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        end = pending.indexOf('\r\n\r\n');
      }
      if (pending === '') arm();
    });
  });
}

const [role = 'throughput', lanesArg = '1', idleArg = '60'] = process.argv.slice(2);
const ports: number[] = [];
if (role === 'throughput') {
  const server = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'text/plain');
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  ports.push(await listen(server));
} else {
  for (let i = 0; i < Number(lanesArg); i++) ports.push(await listen(rawServer(Number(idleArg))));
}
process.stdout.write(`${JSON.stringify({ ports })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
