/**
 * A real DNS server for the discovery tests: dnsmasq on a free loopback port, answering only
 * from files the test writes (`--no-resolv --no-hosts`, `--local=/test/` so unknown names get
 * NXDOMAIN rather than REFUSED).
 *
 * Address records live in an `--addn-hosts` file, which dnsmasq re-reads on SIGHUP. SRV records
 * (`srv-host=`) live in a `--conf-file`, which SIGHUP does NOT re-read, so changing them means a
 * restart on the same port (a short outage the test can use as "resolver down").
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import dgram from 'node:dgram';
import { freePort } from './redis.js';

export function dnsmasqBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v dnsmasq || ls /usr/sbin/dnsmasq'], { encoding: 'utf8' });
  const path = r.stdout.trim().split('\n')[0] ?? '';
  return r.status === 0 && path !== '' ? path : undefined;
}

/** A port free for both TCP and UDP on 127.0.0.1 (dnsmasq binds both). */
async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no port free for TCP and UDP after 20 tries');
}

export class Dnsmasq {
  readonly port: number;
  readonly dir: string;
  readonly hostsFile: string;
  readonly confFile: string;
  #child: ChildProcess | undefined;
  #stderr = '';

  private constructor(readonly binary: string, port: number) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'lifeline-dnsmasq-'));
    // dnsmasq started as root drops to "nobody", which must still read the files on SIGHUP.
    chmodSync(this.dir, 0o755);
    this.hostsFile = join(this.dir, 'hosts');
    this.confFile = join(this.dir, 'srv.conf');
  }

  /** Start with these hosts lines (`127.0.0.11 api.test`) and `srv-host=` lines. TTL of every answer: `ttlS`. */
  static async start(binary: string, hosts: readonly string[], srv: readonly string[], ttlS = 1): Promise<Dnsmasq> {
    const d = new Dnsmasq(binary, await freeDnsPort());
    d.#write(d.hostsFile, hosts);
    d.#write(d.confFile, srv);
    d.ttlS = ttlS;
    await d.startAgain();
    return d;
  }

  ttlS = 1;

  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  get stderr(): string {
    return this.#stderr;
  }

  #write(file: string, lines: readonly string[]): void {
    writeFileSync(file, lines.join('\n') + '\n', { mode: 0o644 });
  }

  async startAgain(): Promise<void> {
    if (this.#child !== undefined) throw new Error('dnsmasq is already running');
    const args = [
      '--no-daemon',
      `--port=${this.port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--local=/test/',
      `--addn-hosts=${this.hostsFile}`,
      `--conf-file=${this.confFile}`,
      `--local-ttl=${this.ttlS}`,
      '--pid-file=',
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString('utf8');
    });
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    // Ready when it answers; bounded at 5 s.
    const probe = new Resolver({ timeout: 200, tries: 1 });
    probe.setServers([this.server]);
    const until = Date.now() + 5_000;
    for (;;) {
      try {
        await probe.resolve4('ready.invalid.test');
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOTFOUND' || code === 'ENODATA') return;
        if (this.#child === undefined) throw new Error(`dnsmasq exited at start: ${this.#stderr}`);
        if (Date.now() > until) throw new Error(`dnsmasq did not answer within 5 s (${code}): ${this.#stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Replace the address records; dnsmasq re-reads them on SIGHUP. */
  async setHosts(hosts: readonly string[]): Promise<void> {
    this.#write(this.hostsFile, hosts);
    this.#child?.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 100));
  }

  /** Replace the SRV records: a restart, since SIGHUP does not re-read them. */
  async setSrv(srv: readonly string[]): Promise<void> {
    this.#write(this.confFile, srv);
    await this.stop();
    await this.startAgain();
  }

  /** Stop the server (the port then refuses: ECONNREFUSED to the resolver). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
