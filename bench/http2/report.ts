/**
 * bench/http2's tables: throughput per scenario with the CPU ratios and their targets, memory per
 * idle HTTP/2 connection, and upstream multiplexing. Medians of the rounds; every round shown.
 */
import { median } from '../results.js';
import type { H2loadRun } from './h2load.js';
import type { IdleRun } from './idle.js';
import { kibPerConnection } from './idle.js';
import type { UpstreamRun } from './upstream.js';

export interface Run extends H2loadRun {
  cpuPer1k: number;
  /** New backend connections per 1,000 backend requests in the measured window (0 for the bare server). */
  upstreamPer1k: number;
}

export interface Row {
  id: string;
  label: string;
  /** Why it has no figures, or null. */
  error: string | null;
}

export const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const fmtMs = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : 'n/a');
export const fmtRatio = (x: number): string => (Number.isFinite(x) && x > 0 ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)}x` : 'n/a');
const fmtCpu = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
const NA = '**not available** (see below)';

export interface Summary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuPer1k: number;
  errors: number;
  rounds: number[];
  upstreamPer1k: number;
}

export function summarize(runs: Run[]): Summary {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuPer1k: median(runs.map((r) => r.cpuPer1k)),
    errors: runs.reduce((a, r) => a + r.failed + r.non2xx, 0),
    rounds: runs.map((r) => r.rps),
    upstreamPer1k: median(runs.map((r) => r.upstreamPer1k)),
  };
}

/** Median CPU per 1,000 requests of one front in one scenario, or NaN. */
function cpuOf(rows: Map<Row, Run[]>, id: string): number {
  const entry = [...rows].find(([r]) => r.id === id);
  if (!entry || entry[0].error || entry[1].length === 0) return Number.NaN;
  return summarize(entry[1]).cpuPer1k;
}

export function throughputTable(rows: Map<Row, Run[]>): string {
  const bare = cpuOf(rows, 'node-http2');
  const nginx = cpuOf(rows, 'nginx');
  const lines = [...rows].map(([row, runs]) => {
    if (row.error || runs.length === 0) return `| ${row.label} | ${NA} | | | | | | | | |`;
    const s = summarize(runs);
    const errs = runs.map((x) => `${x.failed}+${x.non2xx}`).join(', ');
    const upstream = row.id === 'node-http2' ? '-' : s.upstreamPer1k.toFixed(2);
    return `| ${row.label} | ${fmtInt(s.rps)} | ${fmtMs(s.p50Ms)} | ${fmtMs(s.p99Ms)} | ${fmtCpu(s.cpuPer1k)} | ${fmtRatio(s.cpuPer1k / bare)} | ${fmtRatio(s.cpuPer1k / nginx)} | ${upstream} | ${s.errors === 0 ? '0' : `${s.errors} (${errs})`} | ${s.rounds.map(fmtInt).join(', ')} |`;
  });
  return [
    '| front | req/s | p50 ms | p99 ms | CPU s / 1,000 req | CPU vs bare node:http2 | CPU vs nginx | new backend connections / 1,000 req | errors (failed+non-2xx, all rounds) | req/s per round |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...lines,
  ].join('\n');
}

/** The two targets of lifeline's CPU per request, judged on this scenario's medians. */
export function targetsLine(rows: Map<Row, Run[]>): string {
  const lifeline = cpuOf(rows, 'lifeline');
  const bare = cpuOf(rows, 'node-http2');
  const peer = cpuOf(rows, 'http2-proxy');
  const vsBare = lifeline / bare;
  const vsPeer = peer / lifeline;
  const verdict = (ok: boolean, x: number): string => (Number.isFinite(x) ? (ok ? 'met' : '**not met**') : 'not measured');
  return `Targets (CPU per request): lifeline / bare node:http2 = ${fmtRatio(vsBare)} (target at most 1.6x: ${verdict(vsBare <= 1.6, vsBare)}); http2-proxy / lifeline = ${fmtRatio(vsPeer)} (target at least 1.5x: ${verdict(vsPeer >= 1.5, vsPeer)}).`;
}

export function idleTable(rows: Map<Row, IdleRun[]>, settleS: number): string {
  const nginxEntry = [...rows].find(([r]) => r.id === 'nginx');
  const base = nginxEntry && !nginxEntry[0].error && nginxEntry[1].length ? median(nginxEntry[1].map((x) => kibPerConnection(x, 'afterKiB'))) : Number.NaN;
  const lines = [...rows].map(([row, runs]) => {
    if (row.error || runs.length === 0) return `| ${row.label} | ${NA} | | | | | | | | |`;
    const k = median(runs.map((x) => kibPerConnection(x, 'afterKiB')));
    const early = median(runs.map((x) => kibPerConnection(x, 'earlyKiB')));
    const last = runs[runs.length - 1] as IdleRun;
    const mib = (f: (x: IdleRun) => number): string => (median(runs.map(f)) / 1024).toFixed(1);
    return `| ${row.label} | ${mib((x) => x.beforeKiB)} | ${mib((x) => x.earlyKiB)} | ${mib((x) => x.afterKiB)} | ${runs.map((x) => fmtInt(x.held)).join(', ')} | ${runs.reduce((a, x) => a + x.failed, 0)} | ${early.toFixed(2)} | **${k.toFixed(2)}** | ${fmtRatio(k / base)} | ${fmtInt(last.fds)} |`;
  });
  return [
    `| front | RSS before (MiB) | RSS 2 s after (MiB) | RSS ${settleS} s later (MiB) | connections held per round | failed | KiB per idle connection at 2 s | **KiB per idle connection, settled** | settled vs nginx | fds (last round) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...lines,
  ].join('\n');
}

export function upstreamTable(rows: Map<Row, UpstreamRun[]>, bound: number): string {
  const lines = [...rows].map(([row, runs]) => {
    if (row.error || runs.length === 0) return `| ${row.label} | ${NA} | | | | | | |`;
    const inAll = median(runs.map((x) => x.openedInAll));
    const steady = median(runs.map((x) => x.steadyPer1k));
    const ok = runs.every((x) => x.openedInAll <= bound) && runs.every((x) => x.steadyPer1k === 0);
    const s = summarize(runs.map((x) => ({ ...x.run, cpuPer1k: x.cpuPer1k, upstreamPer1k: Number.NaN })));
    return `| ${row.label} | ${runs.map((x) => fmtInt(x.openedInAll)).join(', ')} | ${steady.toFixed(2)} (${runs.map((x) => x.steadyPer1k.toFixed(2)).join(', ')}) | ${ok ? 'met' : `**not met** (median ${fmtInt(inAll)} in all)`} | ${fmtInt(s.rps)} | ${fmtMs(s.p99Ms)} | ${fmtCpu(s.cpuPer1k)} | ${s.errors} |`;
  });
  return [
    `| front | backend connections opened in all, per round (bound: ${bound}) | opened per 1,000 requests in steady state (median; per round) | target (at most ${bound} in all, 0 in steady state) | req/s | p99 ms | CPU s / 1,000 req | errors |`,
    '|---|---|---|---|---|---|---|---|',
    ...lines,
  ].join('\n');
}

export function unavailableNotes(rows: Row[]): string {
  const lines = rows.filter((r) => r.error).map((r) => `- ${r.label}: not available: ${r.error ?? ''}`);
  return lines.length ? `Not available in this run:\n\n${[...new Set(lines)].join('\n')}` : '';
}

/** Scenarios a front ran but that gave no figure (the rounds that did count still do). */
export function failureNotes(fronts: [string, string[]][]): string {
  const lines = fronts.flatMap(([label, failures]) => failures.map((f) => `- ${label}: ${f.slice(0, 400)}`));
  return lines.length ? `Failed runs (left out of the medians above):\n\n${lines.join('\n')}` : '';
}
