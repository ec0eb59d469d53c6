/**
 * Throwaway TLS certificates for tests and benchmarks, made by the `openssl` command line, and the
 * two tiny TLS endpoints the TLS tests share (a server that answers "ok" and closes; a client
 * handshake that reports whether it resumed).
 *
 * Why openssl and not fixtures: no key material is committed, and each run gets fresh keys.
 * Invariants: the files live in a private temp directory only while openssl runs; the directory
 * is removed before this returns, so callers hold the PEM text in memory and clean up nothing.
 * The certificate is self-signed and valid for `localhost` and `127.0.0.1`, so a client pins it
 * with `ca: cert` and keeps `rejectUnauthorized` on.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import type { Server, TLSSocket, TlsOptions } from 'node:tls';

/** A private key and its self-signed certificate, both PEM. */
export interface TestCert {
  key: Buffer;
  cert: Buffer;
}

export interface TestCertOptions {
  /** `rsa` (2048-bit, the common default) or `ec` (P-256). Default `rsa`. */
  keyType?: 'rsa' | 'ec';
  /** Subject common name. Default `localhost`. */
  commonName?: string;
}

/**
 * Make a self-signed certificate for localhost / 127.0.0.1 (takes ~50-200 ms for RSA).
 * @example
 *   const { key, cert } = makeTestCert();
 *   const server = tls.createServer({ key, cert });
 *   tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: cert });
 */
export function makeTestCert(options: TestCertOptions = {}): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-cert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const newkey = options.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
    execFileSync(
      'openssl',
      [
        'req', '-x509', ...newkey, '-nodes', '-days', '2',
        '-keyout', keyFile, '-out', certFile,
        '-subj', `/CN=${options.commonName ?? 'localhost'}`,
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A listening TLS server on 127.0.0.1 and a close that also destroys its open sockets. */
export interface TestTlsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * Listen on 127.0.0.1 (port 0 unless given). Each connection gets "ok" and an end.
 * @example const { port, close } = await startTlsServer({ key, cert }); ...; await close();
 */
export async function startTlsServer(options: TlsOptions, port = 0): Promise<TestTlsServer> {
  const server = createServer(options, (socket) => {
    socket.on('error', () => undefined);
    socket.end('ok');
  });
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    server,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

/** How one client connection went. */
export interface HandshakeResult {
  secure: boolean;
  reused: boolean;
  protocol: string | null;
  /** Every session the client received, oldest first. */
  sessions: Buffer[];
  error: Error | undefined;
}

/**
 * Run one client connection to the end (server's "ok", then close) and report it. Never rejects.
 * @example const r = await handshake(tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }));
 */
export function handshake(socket: TLSSocket): Promise<HandshakeResult> {
  const result: HandshakeResult = { secure: false, reused: false, protocol: null, sessions: [], error: undefined };
  socket.on('session', (session: Buffer) => result.sessions.push(session));
  socket.once('secureConnect', () => {
    result.secure = true;
    result.reused = socket.isSessionReused();
    result.protocol = socket.getProtocol();
  });
  socket.on('error', (error: Error) => {
    result.error ??= error;
  });
  socket.on('data', () => undefined);
  socket.once('end', () => socket.end());
  return new Promise((resolve) => socket.once('close', () => resolve(result)));
}

/**
 * TCP handles still open in this process, after giving closing ones up to `waitMs` to finish
 * (a closed server's handle is freed a loop turn after its 'close' event).
 * @example after(async () => assert.deepEqual(await openTcpHandles(), []));
 */
export async function openTcpHandles(waitMs = 500): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const open = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r === 'TLSWrap');
    if (open.length === 0 || Date.now() >= deadline) return open;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
