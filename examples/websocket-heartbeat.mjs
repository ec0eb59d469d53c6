// WebSocket peers pinged when silent and terminated when the pong does not come, with `ws`.
// Shown in docs/server.md. Run: node examples/websocket-heartbeat.mjs (PORT=8080 by default).
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { heartbeat } from 'lifeline-keepalive/server';

const server = http.createServer((req, res) => res.end('ok\n'));
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
const hb = heartbeat(wss, { intervalMs: 25_000, timeoutMs: 10_000 });
server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${server.address().port}`));
process.once('SIGTERM', () => {
  console.log('stats', hb.stats()); // { open, pingsSent, terminated }
  hb.close(); // stop watching; peers stay connected until closed here
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  wss.close();
  server.close();
});
