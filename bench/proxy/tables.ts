/** bench/proxy's Markdown tables: medians of the rounds, ratios to nginx, every round's figure. */
import { median } from '../results.js';
import type { Proxy } from './proxies.js';
import type { IdleRun, Result, Run, ThroughputId } from './scenarios.js';
import { SETTLE_MS } from './settings.js';

export const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtMs = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : 'n/a');
const fmtRatio = (x: number): string => (Number.isFinite(x) && x > 0 ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)}x` : 'n/a');
const fmtCpu = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : 'n/a');

export interface Summary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuPer1k: number;
  errors: number;
  rounds: number[];
}

export function summarize(runs: Run[]): Summary {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuPer1k: median(runs.map((r) => r.cpuPer1k)),
    errors: runs.reduce((a, r) => a + r.socketErrors + r.non2xx, 0),
    rounds: runs.map((r) => r.rps),
  };
}

const NA = '**not available** (see below)';

export function unavailableNotes(results: Map<Proxy, Result>): string {
  const lines = [...results].filter(([, r]) => r.error).map(([p, r]) => `- ${p.label}: not available: ${r.error ?? ''}`);
  return lines.length ? `Not available in this run:\n\n${lines.join('\n')}` : '';
}

/** The resumed fraction over every S7 round: handshakes resumed / handshakes, as the proxy logged them. */
function resumedCell(r: Result): string {
  const resumed = r.s7.reduce((a, x) => a + x.resumed, 0);
  const total = r.s7.reduce((a, x) => a + x.total, 0);
  const protocols = [...new Set(r.s7.flatMap((x) => x.protocols))].join(', ');
  return total === 0 ? 'n/a (no handshake logged)' : `${fmtPct(resumed / total)} (${fmtInt(resumed)} of ${fmtInt(total)}; ${protocols})`;
}

/** S1-S3, S6, S7: one row per proxy; S7 adds the resumed fraction. */
export function throughputTable(id: ThroughputId, results: Map<Proxy, Result>): string {
  const resumption = id === 'S7';
  const nginx = [...results].find(([p]) => p.id === 'nginx')?.[1];
  const base = nginx && !nginx.error && nginx.runs[id].length > 0 ? summarize(nginx.runs[id]) : null;
  const rows = [...results].filter(([p]) => p.s2Only !== true || id === 'S2').map(([p, r]) => {
    if (r.error || r.runs[id].length === 0) return `| ${p.label} | ${NA} | | | | | | | | |${resumption ? ' |' : ''}`;
    const s = summarize(r.runs[id]);
    const errs = r.runs[id].map((x) => `${x.socketErrors}+${x.non2xx}`).join(', ');
    return `| ${p.label} | ${fmtInt(s.rps)} | ${base ? fmtRatio(s.rps / base.rps) : 'n/a'} | ${fmtMs(s.p50Ms)} | ${fmtMs(s.p99Ms)} | ${base ? fmtRatio(s.p99Ms / base.p99Ms) : 'n/a'} | ${fmtCpu(s.cpuPer1k)} | ${base ? fmtRatio(s.cpuPer1k / base.cpuPer1k) : 'n/a'} | ${s.errors === 0 ? '0' : `${s.errors} (${errs})`} | ${s.rounds.map(fmtInt).join(', ')} |${resumption ? ` ${resumedCell(r)} |` : ''}`;
  });
  return [
    `| proxy | req/s | req/s vs nginx | p50 ms | p99 ms | p99 vs nginx | CPU s / 1,000 req | CPU vs nginx | errors (socket+non-2xx, all rounds) | req/s per round |${resumption ? ' TLS sessions resumed (server side, all rounds; protocol) |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|---|${resumption ? '---|' : ''}`,
    ...rows,
  ].join('\n');
}

/** lifeline's CPU per request against nginx's, for the S6 target (at most 1.5x). */
export function cpuRatioToNginx(id: ThroughputId, results: Map<Proxy, Result>): number {
  const find = (pid: string): Result | undefined => [...results].find(([p]) => p.id === pid)?.[1];
  const n = find('nginx');
  const l = find('lifeline');
  if (!n || !l || n.error || l.error || n.runs[id].length === 0 || l.runs[id].length === 0) return Number.NaN;
  return summarize(l.runs[id]).cpuPer1k / summarize(n.runs[id]).cpuPer1k;
}

export function idleTable(all: Map<Proxy, Result>): string {
  const results = new Map([...all].filter(([p]) => p.s2Only !== true));
  const perConn = (r: Result): number => median(r.s4.map((x) => (x.afterKiB - x.beforeKiB) / Math.max(1, x.held)));
  const nginx = [...results].find(([p]) => p.id === 'nginx')?.[1];
  const base = nginx && !nginx.error && nginx.s4.length ? perConn(nginx) : Number.NaN;
  const rows = [...results].map(([p, r]) => {
    if (r.error || r.s4.length === 0) return `| ${p.label} | ${NA} | | | | | | | | |`;
    const k = perConn(r);
    const early = median(r.s4.map((x) => (x.earlyKiB - x.beforeKiB) / Math.max(1, x.held)));
    const last = r.s4[r.s4.length - 1] as IdleRun;
    return `| ${p.label} | ${(median(r.s4.map((x) => x.beforeKiB)) / 1024).toFixed(1)} | ${(median(r.s4.map((x) => x.earlyKiB)) / 1024).toFixed(1)} | ${(median(r.s4.map((x) => x.afterKiB)) / 1024).toFixed(1)} | ${r.s4.map((x) => fmtInt(x.held)).join(', ')} | ${r.s4.reduce((a, x) => a + x.failed, 0)} | ${early.toFixed(2)} | **${k.toFixed(2)}** | ${fmtRatio(k / base)} | ${fmtInt(last.fds)} |`;
  });
  return [
    `| proxy | RSS before (MiB) | RSS 2 s after (MiB) | RSS ${SETTLE_MS / 1000} s later (MiB) | connections held per round | failed | KiB per idle connection at 2 s | **KiB per idle connection, settled** | settled vs nginx | proxy fds (last round) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** S1 with one worker (pinned) and two (unpinned, sharing CPU 1 with wrk and the backend). */
export function workersTable(results: Map<Proxy, Result>): string {
  const rows = [...results]
    .filter(([p]) => p.id === 'lifeline' || p.id === 'lifeline-2w')
    .map(([p, r]) => {
      if (r.error || r.runs.S1.length === 0) return `| ${p.label} | ${NA} | | | | | |`;
      const s = summarize(r.runs.S1);
      return `| ${p.label} | ${fmtInt(s.rps)} | ${fmtMs(s.p50Ms)} | ${fmtMs(s.p99Ms)} | ${fmtCpu(s.cpuPer1k)} | ${s.errors} | ${s.rounds.map(fmtInt).join(', ')} |`;
    });
  if (rows.length < 2) return '';
  return [
    '| lifeline | req/s | p50 ms | p99 ms | CPU s / 1,000 req (all processes) | errors | req/s per round |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export function reuseTable(all: Map<Proxy, Result>): string {
  const results = new Map([...all].filter(([p]) => p.s2Only !== true));
  const rows = [...results].map(([p, r]) => {
    if (r.error || r.s5.length === 0) return `| ${p.label} | ${NA} | |`;
    return `| ${p.label} | ${median(r.s5).toFixed(2)} | ${r.s5.map((x) => x.toFixed(2)).join(', ')} |`;
  });
  return ['| proxy | new upstream connections per 1,000 requests (median) | per round |', '|---|---|---|', ...rows].join('\n');
}
