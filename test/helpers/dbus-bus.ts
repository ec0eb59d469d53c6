/**
 * A private D-Bus for the awake tests: `dbus-daemon --config-file` on a socket in a temp dir,
 * plus test/fixtures/awake-logind-service.py, which plays logind (Inhibit returning a pipe
 * descriptor, watched for EOF) and the desktop ScreenSaver, and reports each call and release as
 * a JSON line. Tests point LIFELINE_SYSTEM_BUS_ADDRESS / sessionBusAddress at it.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BusEvent {
  event: string;
  id?: number;
  cookie?: number;
  what?: string;
  who?: string;
  why?: string;
  mode?: string;
  app?: string;
  reason?: string;
  how?: string;
  at: number;
}

const onPath = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

/** Why the private bus cannot run here, or undefined when it can. */
export function privateBusUnavailable(): string | undefined {
  for (const tool of ['dbus-daemon', 'python3', 'systemd-inhibit']) if (!onPath(tool)) return `${tool} is not on PATH`;
  return undefined;
}

export class PrivateBus {
  readonly address: string;
  readonly events: BusEvent[] = [];
  readonly #dir: string;
  readonly #daemon: ChildProcess;
  readonly #service: ChildProcess;
  #waiters: (() => void)[] = [];

  private constructor(dir: string, address: string, daemon: ChildProcess, service: ChildProcess) {
    this.#dir = dir;
    this.address = address;
    this.#daemon = daemon;
    this.#service = service;
  }

  /** Start a bus, and on it the logind/ScreenSaver stand-in (unless `service` is false). */
  static async start(options: { refuse?: boolean } = {}): Promise<PrivateBus> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeline-dbus-'));
    const socket = path.join(dir, 'bus');
    writeFileSync(
      path.join(dir, 'bus.conf'),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
    );
    const daemon = spawn('dbus-daemon', [`--config-file=${path.join(dir, 'bus.conf')}`, '--print-address', '--nofork'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      daemon.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line !== undefined) resolve(line.trim());
      });
      daemon.once('exit', (code) => reject(new Error(`dbus-daemon exited ${code}`)));
    });
    const script = fileURLToPath(new URL('../../../test/fixtures/awake-logind-service.py', import.meta.url));
    const service = spawn('python3', [script, address, ...(options.refuse === true ? ['--refuse'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    const bus = new PrivateBus(dir, address, daemon, service);
    let buffer = '';
    service.stdout?.on('data', (c: Buffer) => {
      buffer += c.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim() !== '') bus.events.push({ ...(JSON.parse(line) as Omit<BusEvent, 'at'>), at: performance.now() });
        const waiters = bus.#waiters;
        bus.#waiters = [];
        for (const w of waiters) w();
      }
    });
    await bus.waitFor((e) => e.event === 'ready', 5000);
    return bus;
  }

  /** Resolve with the first event (already seen or to come) that matches, or reject after `ms`. */
  waitFor(match: (e: BusEvent) => boolean, ms: number): Promise<BusEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching D-Bus event within ${ms} ms; seen: ${JSON.stringify(this.events)}`)), ms);
      const check = (): void => {
        const found = this.events.find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  /** The inhibit event for `why`, and whether its descriptor has been closed yet. */
  inhibitor(why: string): { inhibit: BusEvent | undefined; released: BusEvent | undefined } {
    const inhibit = this.events.find((e) => e.event === 'inhibit' && e.why === why);
    const released = inhibit === undefined ? undefined : this.events.find((e) => e.event === 'released' && e.id === inhibit.id);
    return { inhibit, released };
  }

  async waitReleased(why: string, ms: number): Promise<BusEvent> {
    const inhibit = await this.waitFor((e) => e.event === 'inhibit' && e.why === why, ms);
    return this.waitFor((e) => e.event === 'released' && e.id === inhibit.id, ms);
  }

  async stop(): Promise<void> {
    for (const child of [this.#service, this.#daemon]) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
