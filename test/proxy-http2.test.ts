/**
 * HTTP/2 on the proxy's client side, with real clients: curl over the TLS listener (ALPN h2) and
 * with prior knowledge in clear, nghttp and h2load, all through the same route to an HTTP/1.1
 * backend. Bodies stream both ways intact (a chunked 1 MiB response is de-chunked; a 1 MiB POST
 * without Content-Length goes upstream chunked); the access log says `protocol: "HTTP/2"`;
 * HTTP/1.1 still works on both listeners.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';
import { skipFor } from './helpers/lease-prerequisites.js';
import { MIB_BODY, missingH2Clients, run, sha256, startBackend, startH2Proxy } from './helpers/proxy-http2.js';

const skip = skipFor('proxy HTTP/2 clients', await missingH2Clients());

/** curl's `-w` trailer: the HTTP version and status of the last transfer. */
const W = ['-w', '\n%{http_version} %{response_code}'];

function split(out: Buffer): { body: Buffer; version: string; status: number } {
  const nl = out.lastIndexOf(0x0a);
  const [version, status] = out.subarray(nl + 1).toString('latin1').split(' ');
  return { body: out.subarray(0, nl), version: version ?? '', status: Number(status) };
}

test('curl over TLS (ALPN h2) and with prior knowledge in clear: same route, bodies intact both ways, access log says HTTP/2', { skip, timeout: 120_000 }, async (t) => {
  const backend = await startBackend();
  t.after(() => backend.close());
  const h2 = await startH2Proxy(backend.port);
  t.after(() => h2.close());
  const post = join(h2.dir, 'post.bin');
  writeFileSync(post, MIB_BODY);
  const bases = [
    { name: 'tls', flags: ['-k', '--http2'], base: `https://127.0.0.1:${h2.tlsPort}` },
    { name: 'clear', flags: ['--http2-prior-knowledge'], base: `http://127.0.0.1:${h2.clearPort}` },
  ];
  for (const { name, flags, base } of bases) {
    const small = split((await run('curl', ['-sS', ...flags, ...W, '-D', '-', `${base}/small`])).stdout);
    assert.equal(small.version, '2', `${name}: curl spoke HTTP/2`);
    assert.equal(small.status, 200);
    const text = small.body.toString('latin1');
    assert.match(text, /\r\nx-backend: h1\r\n/, `${name}: backend header passed`);
    assert.doesNotMatch(text, /\r\n(connection|keep-alive|transfer-encoding):/i, `${name}: no hop-by-hop header on HTTP/2`);
    assert.ok(text.endsWith('\r\n\r\nsmall'), `${name}: small body intact`);

    const big = split((await run('curl', ['-sS', ...flags, ...W, `${base}/big`])).stdout);
    assert.equal(big.status, 200);
    assert.equal(big.body.length, MIB_BODY.length, `${name}: 1 MiB chunked response de-chunked to its exact length`);
    assert.equal(sha256(big.body), sha256(MIB_BODY), `${name}: 1 MiB response bytes intact`);

    // With Content-Length (curl's default for a file) and without (then sent upstream chunked).
    for (const extra of [[], ['-H', 'Content-Length:', '-H', 'Transfer-Encoding:']]) {
      const r = split((await run('curl', ['-sS', ...flags, ...W, ...extra, '--data-binary', `@${post}`, `${base}/digest`])).stdout);
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body.toString('utf8')) as { bytes: number; sha256: string; te: string | null; cl: string | null; host: string };
      assert.equal(seen.bytes, MIB_BODY.length, `${name}: backend got the whole 1 MiB POST body`);
      assert.equal(seen.sha256, sha256(MIB_BODY), `${name}: POST body intact`);
      if (extra.length === 0) assert.equal(seen.cl, String(MIB_BODY.length));
      else assert.equal(seen.te, 'chunked', `${name}: a body without Content-Length goes upstream chunked`);
      assert.equal(seen.host, `127.0.0.1:${name === 'tls' ? h2.tlsPort : h2.clearPort}`, `${name}: :authority became Host`);
    }
    // HTTP/1.1 is still served on the same listener.
    const h1 = split((await run('curl', ['-sS', ...(name === 'tls' ? ['-k', '--http1.1'] : []), ...W, `${base}/small`])).stdout);
    assert.equal(h1.version, '1.1');
    assert.equal(h1.body.toString(), 'small');
  }
  await h2.proxy.close();
  const lines = readFileSync(h2.accessLogFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { protocol: string; listener: string; target: string; status: number });
  const h2Lines = lines.filter((l) => l.protocol === 'HTTP/2');
  assert.equal(h2Lines.length, 8, 'four HTTP/2 requests per listener logged with protocol HTTP/2');
  assert.deepEqual(new Set(h2Lines.map((l) => l.listener)), new Set(['tls', 'clear']));
  assert.ok(h2Lines.every((l) => l.status === 200));
  assert.equal(lines.filter((l) => l.protocol === 'HTTP/1.1').length, 2);
});

test('nghttp sees our SETTINGS (128 streams, no extended CONNECT); h2load 1000 requests over 10 connections x 10 streams: 0 errors', { skip, timeout: 120_000 }, async (t) => {
  const backend = await startBackend();
  t.after(() => backend.close());
  const h2 = await startH2Proxy(backend.port);
  t.after(() => h2.close());

  const nghttp = await run('nghttp', ['-nv', `https://127.0.0.1:${h2.tlsPort}/small`]);
  const out = nghttp.stdout.toString('utf8');
  assert.equal(nghttp.code, 0, nghttp.stderr);
  assert.match(out, /recv SETTINGS frame[^]*?SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):128/, 'advertises 128 concurrent streams');
  assert.doesNotMatch(out, /SETTINGS_ENABLE_CONNECT_PROTOCOL\(0x08\):1/, 'does not offer RFC 8441 extended CONNECT');
  assert.match(out, /recv \(stream_id=\d+\) :status: 200/);

  for (const url of [`http://127.0.0.1:${h2.clearPort}/small`, `https://127.0.0.1:${h2.tlsPort}/small`]) {
    const load = await run('h2load', ['-n', '1000', '-c', '10', '-m', '10', url], 90_000);
    const text = load.stdout.toString('utf8');
    assert.match(text, /requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored, 0 timeout/, `${url}: ${text}`);
    assert.match(text, /status codes: 1000 2xx/);
  }
  const stats = h2.proxy.metrics.listener('clear').stats();
  assert.ok(stats.rq['2xx'] >= 1000, 'the requests counted in the listener metrics');
});

test('http2: false offers only http/1.1 by ALPN; http2PriorKnowledge: false answers the preface as a bad HTTP/1 request', { skip, timeout: 60_000 }, async (t) => {
  const backend = await startBackend();
  t.after(() => backend.close());
  const h2 = await startH2Proxy(backend.port);
  t.after(() => h2.close());
  const yaml = `listeners:
  - name: clear
    address: 127.0.0.1:0
    http2PriorKnowledge: false
    routes: [{ cluster: web }]
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    http2: false
    tls: { certFile: ${join(h2.dir, 'front.crt')}, keyFile: ${join(h2.dir, 'front.key')} }
    routes: [{ cluster: web }]
clusters:
  web:
    endpoints: [{ address: "127.0.0.1:${backend.port}" }]
accessLog: { target: "off" }
`;
  const proxy = await Proxy.start(parseConfig(yaml, join(h2.dir, 'off.yaml'), {}));
  t.after(() => proxy.close());
  const tls = split((await run('curl', ['-sS', '-k', '--http2', ...W, `https://127.0.0.1:${proxy.port('tls')}/small`])).stdout);
  assert.deepEqual([tls.version, tls.status, tls.body.toString()], ['1.1', 200, 'small'], 'curl fell back to HTTP/1.1');
  const clear = await run('curl', ['-sS', '--http2-prior-knowledge', ...W, `http://127.0.0.1:${proxy.port('clear')}/small`]);
  assert.notEqual(split(clear.stdout).status, 200, 'no HTTP/2 without prior-knowledge support');
  assert.equal(proxy.listeners.every((l) => l.http2 === undefined), true);
});
