/**
 * The tunnel's metrics through prom-client, from a real server and client over TLS: the scrapes
 * (server and client admin endpoints) carry exactly the families docs/metrics.md lists for them,
 * with the types and labels it gives, and their values follow the session (one open session,
 * client connected, a stream's bytes counted). Neither touches prom-client's global registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { TunnelServer } from '../src/tunnel/tunnel-server.js';
import { TunnelClient } from '../src/tunnel/tunnel-client.js';
import { AdminServer } from '../src/tunnel/admin-server.js';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { root, socksConnect, startOrigin } from './helpers/tunnel-harness.js';

interface Family {
  type: string;
  labels: Set<string>;
}

/** Families in a scrape: TYPE lines, and the label names their samples carry. */
function scraped(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1] as string, { type: m[2] as string, labels: new Set() });
  for (const m of text.matchAll(/^([a-z_:][a-z0-9_:]*)\{([^}]*)\}/gm)) {
    for (const l of (m[2] as string).matchAll(/([a-z_]+)="/g)) out.get(m[1] as string)?.labels.add(l[1] as string);
  }
  return out;
}

/** The rows of one `## heading` section of docs/metrics.md. */
function documented(heading: string): Map<string, Family> {
  const doc = readFileSync(join(root, 'docs', 'metrics.md'), 'utf8');
  const start = doc.indexOf(`## ${heading}`);
  assert.ok(start !== -1, `docs/metrics.md has a "## ${heading}" section`);
  const end = doc.indexOf('\n## ', start + 3);
  const out = new Map<string, Family>();
  for (const line of doc.slice(start, end === -1 ? undefined : end).split('\n')) {
    const row = /^\| `([a-z0-9_:]+)` \| (counter|gauge|histogram) \|([^|]*)\|/.exec(line);
    if (row !== null) out.set(row[1] as string, { type: row[2] as string, labels: new Set((row[3] as string).split(',').map((s) => s.trim()).filter((s) => s !== '')) });
  }
  return out;
}

function sameFamilies(actual: Map<string, Family>, expected: Map<string, Family>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: families in the scrape vs docs/metrics.md`);
  for (const [name, f] of actual) {
    assert.equal(f.type, expected.get(name)?.type, `${what} ${name}: type`);
    for (const l of f.labels) assert.ok(expected.get(name)?.labels.has(l), `${what} ${name}: label ${l} not documented`);
  }
}

test('tunnel server and client metrics: prom-client text, exactly the documented families, values that follow the session', { timeout: 30_000 }, async (t) => {
  const before = (await globalRegistry.metrics()).length;
  const pair = generateKeyPair();
  const origin = await startOrigin();
  const token = 'metrics-token-0123456789abcdef';
  const server = new TunnelServer({ host: '127.0.0.1', key: pair.key, cert: pair.cert, tokens: [token], allow: [`127.0.0.1:${origin.port}`] });
  const { port } = await server.listen();
  const admin = await AdminServer.listen('127.0.0.1', 0, { status: () => server.status(), metrics: () => server.metrics() });
  const client = new TunnelClient({ server: `127.0.0.1:${port}`, token, fingerprint: pair.fingerprint, name: 'metrics' });
  t.after(async () => {
    await client.close();
    await admin.close();
    await server.close();
    await origin.close();
  });
  const clientAdmin = await client.listenAdmin('127.0.0.1', 0);
  const socks = await client.listenSocks('127.0.0.1', 0);
  client.start();
  await client.waitConnected(5_000);

  // One stream: 1000 bytes through SOCKS.
  const { reply, socket } = await socksConnect(socks.address.port, '127.0.0.1', origin.port);
  assert.equal(reply, 0);
  socket.write('GET /bytes/1000/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  let got = 0;
  socket.on('data', (b: Buffer) => (got += b.length));
  await new Promise((resolve) => socket.on('close', resolve));
  assert.ok(got > 1000, `received ${got} bytes`);

  const serverText = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
  const clientText = await (await fetch(`http://127.0.0.1:${clientAdmin.port}/metrics`)).text();
  sameFamilies(scraped(serverText), documented('Tunnel server'), 'server');
  sameFamilies(scraped(clientText), documented('Tunnel client'), 'client');

  assert.match(serverText, /^lifeline_tunnel_sessions 1$/m);
  assert.match(serverText, /^lifeline_tunnel_streams_opened_total 1$/m);
  const toClient = Number(/^lifeline_tunnel_bytes_total\{direction="to_client"\} (\d+)$/m.exec(serverText)?.[1]);
  assert.ok(toClient >= 1000, `to_client ${toClient}`);
  assert.match(clientText, /^lifeline_tunnel_client_connected 1$/m);
  const received = Number(/^lifeline_tunnel_client_bytes_total\{direction="received"\} (\d+)$/m.exec(clientText)?.[1]);
  assert.ok(received >= 1000, `received ${received}`);

  // The server shuts down: it counts `shutdown` (noticed by the tunnel); the client reports why
  // its session ended on its event, its status and its counter.
  const disconnected = once(client, 'disconnected', { signal: AbortSignal.timeout(5_000) });
  await server.close();
  const [info] = (await disconnected) as [{ closeReason: string; side: string; layer: string }];
  t.diagnostic(`client saw: ${info.closeReason} (${info.side}, ${info.layer})`);
  assert.deepEqual([info.closeReason, info.side, info.layer], ['peer_close', 'remote', 'tunnel'], 'the GOAWAY of a shutdown is the peer closing, told by the tunnel');
  const serverAfter = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
  assert.match(serverAfter, /^lifeline_tunnel_session_closes_total\{reason="shutdown",layer="tunnel"\} 1$/m);
  assert.deepEqual(server.status().totals.closesByLayer, { tunnel: { shutdown: 1 } });
  const clientAfter = await (await fetch(`http://127.0.0.1:${clientAdmin.port}/metrics`)).text();
  assert.match(clientAfter, /^lifeline_tunnel_client_disconnects_total\{reason="peer_close",layer="tunnel"\} 1$/m);
  const status = (await (await fetch(`http://127.0.0.1:${clientAdmin.port}/status`)).json()) as { lastClose: { closeReason: string; side: string; layer: string; code: string } | null };
  assert.deepEqual(status.lastClose === null ? null : [status.lastClose.closeReason, status.lastClose.side, status.lastClose.layer, status.lastClose.code], ['peer_close', 'remote', 'tunnel', 'ERR_TUNNEL_SHUTDOWN']);
  assert.equal((await globalRegistry.metrics()).length, before, 'the global registry is untouched');
});
