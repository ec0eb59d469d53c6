// The tunnel as a library: a server and a client in one process, a SOCKS5 entry point, and a
// request through it. Shown in docs/tunnel.md. Run: node examples/tunnel-library.mjs
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { TunnelServer, TunnelClient, generateKeyPair } from 'lifeline-keepalive/tunnel';

const { key, cert, fingerprint } = generateKeyPair(); // or `lifeline tunnel keygen`
const token = randomBytes(32).toString('hex');

// A destination to reach through the tunnel.
const echo = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
await new Promise((resolve) => echo.once('listening', resolve));
const echoPort = echo.address().port;

const server = new TunnelServer({ host: '127.0.0.1', port: 0, key, cert, tokens: [token], allow: [`127.0.0.1:${echoPort}`] });
const { port } = await server.listen();

const client = new TunnelClient({ server: `127.0.0.1:${port}`, token, fingerprint });
const socks = await client.listenSocks('127.0.0.1', 0);
client.on('dead', ({ silentMs }) => console.log(`server silent ${silentMs} ms; reconnecting`));
client.start();
await client.waitConnected(10_000);

// SOCKS5 by hand: no auth, CONNECT 127.0.0.1:echoPort, then one round trip.
const socket = net.connect(socks.address.port, '127.0.0.1');
const read = (n) => new Promise((resolve) => {
  const take = () => { const b = socket.read(n); if (b === null) socket.once('readable', take); else resolve(b); };
  take();
});
socket.write(Buffer.from([5, 1, 0]));
await read(2);
socket.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 255]));
const reply = await read(10);
socket.write('hello through the tunnel');
console.log(`SOCKS reply ${reply[1]}; echoed: ${(await read(24)).toString()}`);
socket.destroy();

await client.close();
await server.close();
echo.close();
