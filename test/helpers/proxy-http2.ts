/**
 * Shared pieces of the proxy's HTTP/2 tests: an HTTP/1.1 backend (small answers, a 1 MiB chunked
 * answer, a slow answer, and a digest of any request body), a proxy with a cleartext and a TLS
 * listener in front of it, and real HTTP/2 clients run as child processes (curl, nghttp, h2load).
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/proxy/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { makeTestCert } from './tls-certs.js';
import type { TestCert } from './tls-certs.js';

/** 1 MiB of a repeating, position-dependent pattern (a cut or reordered piece shows). */
export const MIB_BODY = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7 + (i >> 10)) & 0xff));

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Backend {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * GET /small: 200 "small", with Content-Length. GET /big: MIB_BODY chunked (written in pieces).
 * GET /slow: "slow" after 600 ms. POST /digest: the body's length, sha256 and framing headers.
 */
export async function startBackend(): Promise<Backend> {
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      if (req.url === '/big') {
        for (let i = 0; i < MIB_BODY.length; i += 100_000) res.write(MIB_BODY.subarray(i, i + 100_000));
        res.end();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('slow'), 600).unref();
      } else if (req.url === '/digest') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ bytes: n, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null, host: req.headers.host }));
      } else {
        res.setHeader('content-length', '5');
        res.setHeader('x-backend', 'h1');
        res.end('small');
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface H2Proxy {
  readonly proxy: Proxy;
  readonly cert: TestCert;
  readonly clearPort: number;
  readonly tlsPort: number;
  readonly accessLogFile: string;
  readonly dir: string;
  close(): Promise<void>;
}

/** A proxy with listeners `clear` (h2c by prior knowledge) and `tls` (ALPN h2), one route to the backend. */
export async function startH2Proxy(backendPort: number, clientYaml = '', clusterYaml = ''): Promise<H2Proxy> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-proxy-h2-'));
  const cert = makeTestCert();
  writeFileSync(join(dir, 'front.key'), cert.key);
  writeFileSync(join(dir, 'front.crt'), cert.cert);
  const accessLogFile = join(dir, 'access.log');
  const yaml = `listeners:
  - name: clear
    address: 127.0.0.1:0
    routes: [{ cluster: web }]
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls: { certFile: ${join(dir, 'front.crt')}, keyFile: ${join(dir, 'front.key')} }
    routes: [{ cluster: web }]
clusters:
  web:
    endpoints: [{ address: "127.0.0.1:${backendPort}" }]
${clusterYaml}accessLog: { target: ${accessLogFile} }
${clientYaml}`;
  const proxy = await Proxy.start(parseConfig(yaml, join(dir, 'proxy.yaml'), {}));
  return {
    proxy,
    cert,
    clearPort: proxy.port('clear'),
    tlsPort: proxy.port('tls'),
    accessLogFile,
    dir,
    close: async () => {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run a command (no shell) with a time bound; never rejects for a non-zero exit. */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1;
      if (error !== null && code === -1) return reject(new Error(`${cmd} failed: ${error.message}`, { cause: error }));
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

/** Why the HTTP/2 command-line clients cannot run here, or undefined. */
export async function missingH2Clients(): Promise<string | undefined> {
  for (const [cmd, arg] of [['curl', '-V'], ['nghttp', '--version'], ['h2load', '--version']] as const) {
    try {
      const r = await run(cmd, [arg], 10_000);
      if (cmd === 'curl' && !/HTTP2/.test(r.stdout.toString('utf8'))) return 'curl has no HTTP/2 support';
    } catch {
      return `${cmd} is not installed (Debian: curl, nghttp2-client)`;
    }
  }
  return undefined;
}

/** dist/ of the repository (this file runs from dist/test/helpers). */
export const ROOT_DIST = join(import.meta.dirname, '..', '..');
