/**
 * Upstream multiplexing: a front speaking HTTP/2 to an h2c backend (nginx, 128 streams per
 * connection, serving the 100 bytes itself) under the h2load load. The backend's stub_status
 * `accepts` counts the connections the front opened: in all (its start included), and per 1,000
 * requests in h2load's measured window (steady state, target 0). With `clients x streams` requests
 * in flight and 128 streams per connection, a multiplexing front needs ceil(in-flight / 128)
 * connections.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuTicks, freePort, get, launch, stop } from '../proxy/processes.js';
import { LIFELINE_UPSTREAM_H2, backendNginxH2c, frontLifeline, upstreamHaproxy } from './configs.js';
import type { Tls } from './configs.js';
import type { Front } from './fronts.js';
import { has, lifelineBuilt, lifelineCommand, startFront, waitReadyH2 } from './fronts.js';
import { h2load } from './h2load.js';
import type { H2loadRun } from './h2load.js';

/** nginx's http2_max_concurrent_streams, set explicitly in the backend's config. */
export const BACKEND_STREAMS = 128;

export interface UpstreamRun {
  /** Connections the backend accepted from the front's start to the end of the run. */
  openedInAll: number;
  /** The same from the end of the warm-up to the end of the run, per 1,000 backend requests. */
  steadyPer1k: number;
  run: H2loadRun;
  cpuPer1k: number;
}

export interface H2Backend {
  port: number;
  statusPort: number;
  child: ChildProcess;
}

export async function startH2cBackend(dir: string, core: number): Promise<H2Backend> {
  const port = await freePort();
  const statusPort = await freePort();
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'backend-h2c.conf');
  writeFileSync(conf, backendNginxH2c(dir, port, statusPort));
  const child = launch(core, 'nginx', ['-p', dir, '-c', conf], join(dir, 'backend-h2c.out'));
  try {
    await waitReadyH2(port, 'h2c', child, join(dir, 'backend-h2c-error.log'), false);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { port, statusPort, child };
}

/** An nginx backend's stub_status counters; each read is itself one accepted connection and one request. */
export async function stubStatus(statusPort: number): Promise<{ accepts: number; requests: number }> {
  const r = await get(statusPort, '/');
  const m = /accepts handled requests\s+(\d+)\s+\d+\s+(\d+)/.exec(r?.body ?? '');
  if (!m) throw new Error(`backend stub_status unreadable: ${r?.body ?? 'no answer'}`);
  return { accepts: Number(m[1]), requests: Number(m[2]) };
}

export const UPSTREAM_FRONTS: Front[] = [
  {
    id: 'lifeline',
    label: 'lifeline (cluster `protocol: http2`, h2c)',
    node: true,
    unavailable: lifelineBuilt,
    command: (dir, port, backendPort, mode, tls) => {
      const conf = join(dir, `upstream-lifeline-${port}.yaml`);
      writeFileSync(conf, frontLifeline(port, backendPort, mode, tls, LIFELINE_UPSTREAM_H2));
      return lifelineCommand(conf);
    },
  },
  {
    id: 'haproxy',
    label: 'HAProxy (`server ... proto h2`, `http-reuse always`)',
    node: false,
    unavailable: () => (has('haproxy') ? null : 'haproxy not installed'),
    command: (dir, port, backendPort) => {
      const conf = join(dir, `upstream-haproxy-${port}.cfg`);
      writeFileSync(conf, upstreamHaproxy(port, backendPort));
      return ['haproxy', ['-db', '-f', conf]];
    },
  },
];

export interface UpstreamLoad {
  coreFront: number;
  coreLoad: number;
  clients: number;
  streams: number;
  seconds: number;
  warmupSeconds: number;
  clkTck: number;
}

export async function upstreamRound(f: Front, dir: string, tls: Tls, backend: H2Backend, load: UpstreamLoad): Promise<UpstreamRun> {
  const start = await stubStatus(backend.statusPort);
  const r = await startFront(f, dir, backend.port, 'h2c', tls, String(load.coreFront), false);
  try {
    let atMeasure: { accepts: number; requests: number } | null = null;
    let atEnd: { accepts: number; requests: number } | null = null;
    let t0 = 0;
    let t1 = 0;
    const run = await h2load({
      core: load.coreLoad,
      url: `http://127.0.0.1:${r.port}/`,
      clients: load.clients,
      streams: load.streams,
      seconds: load.seconds,
      warmupSeconds: load.warmupSeconds,
      logFile: join(dir, `h2load-upstream-${f.id}.log`),
      onMeasureStart: async () => {
        t0 = cpuTicks(r.pid);
        atMeasure = await stubStatus(backend.statusPort);
      },
      onMeasureEnd: async () => {
        t1 = cpuTicks(r.pid);
        atEnd = await stubStatus(backend.statusPort);
      },
    });
    if (!atMeasure || !atEnd) throw new Error('stub_status was not read in the measured window');
    const m: { accepts: number; requests: number } = atMeasure;
    const e: { accepts: number; requests: number } = atEnd;
    // Every read after `start` is itself one accept and one request: two of them up to `atEnd`.
    const openedInAll = Math.max(0, e.accepts - start.accepts - 2);
    const steadyPer1k = (Math.max(0, e.accepts - m.accepts - 1) / Math.max(1, e.requests - m.requests - 1)) * 1000;
    return { openedInAll, steadyPer1k, run, cpuPer1k: ((t1 - t0) / load.clkTck / run.requests) * 1000 };
  } finally {
    await stop(r.child);
  }
}
