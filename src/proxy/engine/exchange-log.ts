/**
 * An exchange's access-log line and request metrics (lifeline's JSON line per request, nginx's
 * access_log): what was asked, what was answered, where it went, and why it failed if it did.
 */
import type { RequestHead } from '../../http/wire/index.js';
import type { ClientSide } from './client-side.js';
import type { ExchangeContext } from './exchange.js';

export interface ExchangeOutcome {
  startedMs: number;
  status: number;
  bytesOut: number;
  upstream: string | null;
  upstreamReused: boolean;
  ttfbMs: number | null;
  attempts: number;
  error: string | null;
  errorDetail: string | null;
  errno: string | null;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

export function logExchange(ctx: ExchangeContext, client: ClientSide, head: RequestHead, cluster: string | null, o: ExchangeOutcome): void {
  const durationMs = ctx.clock.now() - o.startedMs;
  ctx.metrics.request(o.status, durationMs);
  if (!ctx.accessLog.enabled) return;
  ctx.accessLog.write({
    time: new Date().toISOString(),
    listener: ctx.listenerName,
    client: client.clientAddress,
    protocol: client.protocol,
    method: head.method,
    target: head.target,
    status: o.status,
    durationMs: round3(durationMs),
    bytesOut: o.bytesOut,
    cluster,
    upstream: o.upstream,
    upstreamReused: o.upstreamReused,
    upstreamTtfbMs: o.ttfbMs === null ? null : round3(o.ttfbMs),
    attempts: o.attempts,
    ...(o.error === null ? {} : { error: o.error }),
    ...(o.errorDetail === null ? {} : { errorDetail: o.errorDetail }),
    ...(o.errno === null ? {} : { errno: o.errno }),
    pid: process.pid,
  });
}
