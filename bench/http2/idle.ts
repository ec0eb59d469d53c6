/**
 * Idle HTTP/2 client connections: memory a front holds per connection. Measured as bench/proxy's
 * S4 measures HTTP/1.1: RSS of the front's process tree before the clients connect, 2 s after the
 * last one had its response, and `settleMs` later; a Node front is collected (SIGUSR2 through
 * the preloaded gc-on-signal hook) before every reading. The clients are raw h2c connections
 * (peers/idle-h2-clients.mjs), each making one GET / and then idle, in Node processes on the
 * load core.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fdCount, killGroup, live, rssKiB, sleep, stop } from '../proxy/processes.js';
import type { Running } from './fronts.js';
import { ROOT } from './fronts.js';

export interface IdleRun {
  beforeKiB: number;
  /** RSS 2 s after the last client got its response. */
  earlyKiB: number;
  /** RSS `settleMs` after that. */
  afterKiB: number;
  held: number;
  failed: number;
  fds: number;
}

/** Connections per client process: 5,000 raw sockets is well inside one Node process's reach. */
const PER_PROCESS = 5_000;
/** A client process that has not reported within this long counts all its connections failed. */
const CLIENT_REPORT_TIMEOUT_MS = 120_000;

/** RSS of the front's tree, after a full GC when it is a Node process. */
export async function settledRss(r: Running): Promise<number> {
  if (r.node) {
    killGroup(r.child, 'SIGUSR2');
    await sleep(500);
  }
  return rssKiB(r.pid);
}

function clientProcess(core: number, port: number, count: number): { child: ChildProcess; result: Promise<[number, number]> } {
  const script = join(ROOT, 'bench', 'http2', 'peers', 'idle-h2-clients.mjs');
  const child = spawn('taskset', ['-c', String(core), process.execPath, script, String(port), String(count)], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(child);
  const result = new Promise<[number, number]>((resolve) => {
    let buf = '';
    const timer = setTimeout(() => resolve([0, count]), CLIENT_REPORT_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const m = /idle (\d+) (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve([Number(m[1]), Number(m[2])]);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve([0, count]);
    });
  });
  return { child, result };
}

export async function idleConnections(r: Running, core: number, connections: number, settleMs: number): Promise<IdleRun> {
  const before = await settledRss(r);
  const procs = Math.ceil(connections / PER_PROCESS);
  const clients: { child: ChildProcess; result: Promise<[number, number]> }[] = [];
  for (let i = 0; i < procs; i++) {
    const count = Math.floor(connections / procs) + (i < connections % procs ? 1 : 0);
    clients.push(clientProcess(core, r.port, count));
  }
  try {
    const counts = await Promise.all(clients.map((c) => c.result));
    await sleep(2_000);
    const early = await settledRss(r);
    await sleep(settleMs);
    const after = await settledRss(r);
    const fds = fdCount(r.pid);
    return {
      beforeKiB: before,
      earlyKiB: early,
      afterKiB: after,
      held: counts.reduce((a, c) => a + c[0], 0),
      failed: counts.reduce((a, c) => a + c[1], 0),
      fds,
    };
  } finally {
    for (const c of clients) await stop(c.child);
  }
}

export const kibPerConnection = (x: IdleRun, reading: 'earlyKiB' | 'afterKiB'): number => (x[reading] - x.beforeKiB) / Math.max(1, x.held);
