/**
 * transport/user-read-buffer: an accepted socket reads into the caller's buffer (no 'data'),
 * delivers every byte in order, honours pause/resume, and still ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { readIntoBuffer, userReadBufferSupported } from '../src/transport/user-read-buffer.js';

test('an accepted socket reads into a shared buffer: bytes in order, pause/resume, end', async (t) => {
  assert.equal(userReadBufferSupported(), true, 'Node 20 has the internals this relies on');
  const shared = Buffer.alloc(16);
  const received: string[] = [];
  let dataEvents = 0;
  let calls = 0;
  let serverSocket: net.Socket | undefined;
  const server = net.createServer((socket) => {
    serverSocket = socket;
    socket.on('data', () => (dataEvents += 1));
    const ok = readIntoBuffer(socket, shared, function (this: net.Socket, nread: number) {
      assert.equal(this, socket, 'called as a method of the socket');
      calls += 1;
      received.push(shared.toString('latin1', 0, nread));
      return true;
    });
    assert.equal(ok, true);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const text = 'abcdefghijklmnopqrstuvwxyz0123456789'; // more than the 16-byte buffer
  client.write(text);
  const t0 = Date.now();
  while (received.join('').length < text.length && Date.now() - t0 < 2_000) await new Promise((r) => setTimeout(r, 5));
  assert.equal(received.join(''), text);
  assert.ok(calls >= 3, `a 16-byte buffer takes 36 bytes in 3 reads or more (${calls})`);
  assert.equal(dataEvents, 0, "no 'data' events: the bytes go to the callback only");

  const socket = serverSocket as net.Socket;
  socket.pause();
  const before = received.length;
  client.write('while-paused');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, before, 'nothing is delivered while paused');
  socket.resume();
  const t1 = Date.now();
  while (!received.join('').endsWith('while-paused') && Date.now() - t1 < 2_000) await new Promise((r) => setTimeout(r, 5));
  assert.ok(received.join('').endsWith('while-paused'), 'resume delivers what waited');

  const ended = once(socket, 'end');
  client.end();
  await ended;
  socket.destroy();
  client.destroy();
});
