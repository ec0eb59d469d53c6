/**
 * `probe(url, options)`: measure how a server keeps connections alive, every measurement in
 * parallel on its own connections, so the run lasts about as long as the slowest one (bounded by
 * `maxWaitMs`), then judge the figures (verdict.ts).
 *
 * A server that cannot be reached rejects with ProbeUnreachableError (one line: DNS, refused,
 * TLS verification with the certificate's names). A measurement that fails on its own (the
 * server answers garbage to a slow head, say) is listed in `errors` and the others still run.
 */
import { measureBodyTimeout, measureHeaderTimeout } from './slow-request.js';
import type { SlowRequestResult } from './slow-request.js';
import { measureH2 } from './h2-measure.js';
import type { H2Result } from './h2-measure.js';
import { measureIdleTimeout } from './idle-timeout.js';
import type { IdleResult } from './idle-timeout.js';
import { measureRequestLimit } from './request-limit.js';
import type { RequestLimitResult } from './request-limit.js';
import { measureTcp } from './tcp-measure.js';
import type { TcpResult } from './tcp-measure.js';
import { measureTls } from './tls-measure.js';
import type { TlsResult } from './tls-measure.js';
import { resolveProbeOptions } from './probe-options.js';
import type { Behind, MeasurementName, ProbeOptions } from './probe-options.js';
import { open, parseTarget } from './target.js';
import type { TLSSocket } from 'node:tls';
import { verdicts } from './verdict.js';
import type { Verdict } from './verdict.js';

/** Everything measured. A measurement not run (or not applicable) is undefined. */
export interface ProbeResult {
  url: string;
  /** ISO time the run started. */
  startedAt: string;
  durationMs: number;
  maxWaitMs: number;
  behind: Behind | undefined;
  tcp: TcpResult | undefined;
  idle: IdleResult | undefined;
  requests: RequestLimitResult | undefined;
  header: SlowRequestResult | undefined;
  body: SlowRequestResult | undefined;
  tls: TlsResult | undefined;
  h2: H2Result | undefined;
  /** Measurements that failed, with why (`code`: an `ERR_PROBE_*` code or the socket's errno). */
  errors: { measurement: MeasurementName; code: string; message: string }[];
  verdicts: Verdict[];
  /** Some verdict says someone will race this server's close. */
  races: boolean;
}

/**
 * @example
 *   const result = await probe('https://api.example.com/health', { behind: 'aws-alb', maxWaitMs: 120_000 });
 *   if (result.races) console.log(result.verdicts.filter((v) => v.races));
 */
export async function probe(url: string, options?: ProbeOptions): Promise<ProbeResult> {
  const o = resolveProbeOptions(options);
  const target = parseTarget(url, o.ca, o.insecure);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  // Preflight: reachability (one line if not), the first TCP sample, and ALPN for HTTP/2.
  const preflight = await open(target, o.connectTimeoutMs, target.tls ? { ALPNProtocols: ['h2', 'http/1.1'] } : {});
  const alpn = target.tls ? (preflight.socket as TLSSocket).alpnProtocol : null;
  preflight.socket.destroy();

  const errors: ProbeResult['errors'] = [];
  async function run<T>(name: MeasurementName, applies: boolean, fn: () => Promise<T>): Promise<T | undefined> {
    if (!o.only.has(name) || !applies) return undefined;
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      errors.push({ measurement: name, code: typeof code === 'string' ? code : 'ERR_PROBE', message: error instanceof Error ? error.message : String(error) });
      o.progress?.done(name);
      return undefined;
    }
  }
  const [tcp, idle, requests, header, body, tls, h2] = await Promise.all([
    run('tcp', true, () => measureTcp(target, o, preflight.connectMs)),
    run('idle', true, () => measureIdleTimeout(target, o)),
    run('requests', true, () => measureRequestLimit(target, o)),
    run('header', true, () => measureHeaderTimeout(target, o)),
    run('body', true, () => measureBodyTimeout(target, o)),
    run('tls', target.tls, () => measureTls(target, o)),
    run('h2', true, () => measureH2(target, o, alpn === undefined ? false : alpn)),
  ]);
  const list = verdicts(idle, requests, o.behind, o.maxWaitMs);
  return {
    url: target.url.href, startedAt, durationMs: Math.round(performance.now() - started), maxWaitMs: o.maxWaitMs, behind: o.behind,
    tcp, idle, requests, header, body, tls, h2, errors,
    verdicts: list, races: list.some((v) => v.races),
  };
}
