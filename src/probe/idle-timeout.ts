/**
 * Measurement 1: the HTTP/1.1 idle timeout. Several connections each send one request, then sit
 * idle; the time from the last response byte to the server's close (FIN or RST) is one sample.
 * The median is the rule, so one stray close (a restart, a cap eviction) is not taken for it.
 * The first response's `Keep-Alive` hint is kept for the hint check.
 */
import type { CloseReason } from '../core/close-reason.js';
import { within, median, ms } from './bounded.js';
import { ConnectionSet, requestHead } from './http1-connection.js';
import type { KeepAliveHint } from '../http/wire/index.js';
import type { ResolvedProbeOptions } from './probe-options.js';
import { open } from './target.js';
import type { Target } from './target.js';

export interface IdleSample {
  /** Idle time until the server closed, ms; undefined when it kept the connection to the bound. */
  idleMs: number | undefined;
  /** How the server closed it: `peer_close` (FIN), `reset` (RST), or another remote close
   * reason; undefined when it was still open at --max-wait. */
  closedBy: CloseReason | undefined;
  /** Status of a response the server sent before closing, unasked (e.g. 408). */
  unaskedStatus: number | undefined;
}

export interface IdleResult {
  /** The server's idle timeout, ms (median of the samples); undefined when kept to the bound. */
  idleTimeoutMs: number | undefined;
  /** Set when the server kept idle connections open for the whole bound: at least this long. */
  keptAtLeastMs: number | undefined;
  /** How it closes: the reason of most samples; undefined when kept. */
  closedBy: CloseReason | undefined;
  samples: IdleSample[];
  /** Samples more than 2 % and 30 ms away from the rule (stray closes). */
  strayCloses: number;
  /** The `Keep-Alive` header of the first response, if any. */
  hint: KeepAliveHint | undefined;
  /** The first response said `Connection: close`: no keep-alive at all. */
  noKeepAlive: boolean;
}

async function oneSample(target: Target, options: ResolvedProbeOptions, set: ConnectionSet): Promise<{ sample: IdleSample; hint: KeepAliveHint | undefined; noKeepAlive: boolean }> {
  const { socket } = await open(target, options.connectTimeoutMs);
  const conn = set.add(socket);
  const response = await conn.request(requestHead(target));
  const hint = response.head.keepAliveHint;
  if (response.head.connectionClose) {
    conn.destroy();
    return { sample: { idleMs: 0, closedBy: 'peer_close', unaskedStatus: undefined }, hint, noKeepAlive: true };
  }
  const seen = await within(conn.closed, options.maxWaitMs);
  if (seen === undefined || seen.reason === 'shutdown') {
    conn.destroy();
    return { sample: { idleMs: undefined, closedBy: undefined, unaskedStatus: undefined }, hint, noKeepAlive: false };
  }
  return { sample: { idleMs: ms(seen.at - response.endedAt), closedBy: seen.reason, unaskedStatus: seen.unaskedStatus }, hint, noKeepAlive: false };
}

/** Run measurement 1. Rejects only when the server cannot be reached or answers garbage. */
export async function measureIdleTimeout(target: Target, options: ResolvedProbeOptions): Promise<IdleResult> {
  const set = new ConnectionSet();
  const n = options.idleConnections;
  let closed = 0;
  const report = (): void => options.progress?.set('idle', `close of ${n} idle connections (${closed}/${n})`, options.maxWaitMs);
  report();
  try {
    const runs = await Promise.all(Array.from({ length: n }, () => oneSample(target, options, set).then((r) => {
      closed += 1;
      report();
      return r;
    })));
    const samples = runs.map((r) => r.sample);
    const noKeepAlive = runs.some((r) => r.noKeepAlive);
    const hint = runs[0]?.hint;
    // Kept connections count as +infinity, so a majority kept means the rule is "kept".
    const rule = median(samples.map((s) => s.idleMs ?? Number.POSITIVE_INFINITY));
    const finite = Number.isFinite(rule);
    const counts = new Map<CloseReason, number>();
    for (const s of samples) if (s.closedBy !== undefined) counts.set(s.closedBy, (counts.get(s.closedBy) ?? 0) + 1);
    const closedBy = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    const tolerance = finite ? Math.max(30, rule * 0.02) : 0;
    const strayCloses = samples.filter((s) => (finite ? s.idleMs === undefined || Math.abs(s.idleMs - rule) > tolerance : s.idleMs !== undefined)).length;
    return {
      idleTimeoutMs: finite ? ms(rule) : undefined,
      keptAtLeastMs: finite ? undefined : options.maxWaitMs,
      closedBy: finite ? closedBy : undefined,
      samples, strayCloses, hint, noKeepAlive,
    };
  } finally {
    set.close();
    options.progress?.done('idle');
  }
}
