/**
 * From a parsed request head to an Exchange: route it (by Host or the absolute-form target's
 * authority), build the head to send upstream (hop-by-hop fields dropped, X-Forwarded-* and Via
 * appended), or say what to answer locally when no cluster can take it. Protocol-neutral: the
 * HTTP/1 connection calls it today, an HTTP/2 stream can tomorrow.
 */
import { buildRequestHead } from '../../http/wire/index.js';
import type { RequestHead } from '../../http/wire/index.js';
import { Exchange } from './exchange.js';
import { http2RequestFields } from './http2-upstream-fields.js';
import { logExchange } from './exchange-log.js';
import type { ClientSide } from './client-side.js';
import type { ListenerContext } from './listener-context.js';

/** A request the proxy answers itself, before any cluster: its status, code, and whether the
 * connection cannot carry another request after it. */
export interface LocalAnswer {
  readonly status: number;
  readonly code: string;
  readonly close: boolean;
  readonly startedMs: number;
}

/** Hop-by-hop and forwarding fields the proxy replaces (build-head drops the Connection ones). */
const DROP_FORWARDED: readonly string[] = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via'];
const DROP_FORWARDED_AND_HOST: readonly string[] = [...DROP_FORWARDED, 'host'];
const VIA_SELF = ['1.0 lifeline', '1.1 lifeline'] as const;

/** The Exchange for `head`, not yet begun; or the local answer. */
export function startExchange(ctx: ListenerContext, client: ClientSide, head: RequestHead, nowMs: number): Exchange | LocalAnswer {
  if (head.method === 'CONNECT') return { status: 405, code: 'ERR_CONNECT_NOT_ALLOWED', close: true, startedMs: nowMs };
  let target = head.target;
  let hostHeader = head.host ?? '';
  if (!target.startsWith('/') && target !== '*') {
    // absolute-form (RFC 9112 3.2.2): the target's authority replaces Host.
    const match = /^https?:\/\/([^/?#]+)(.*)$/i.exec(target);
    if (match === null) return { status: 400, code: 'ERR_BAD_TARGET', close: true, startedMs: nowMs };
    hostHeader = match[1] ?? '';
    target = match[2] === undefined || match[2] === '' ? '/' : match[2];
  }
  const cluster = ctx.router.match(hostHeader, target);
  if (cluster === undefined) return { status: 404, code: 'ERR_NO_ROUTE', close: false, startedMs: nowMs };

  let xff: string | undefined;
  let via: string | undefined;
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i] as string;
    if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') xff = xff === undefined ? h[i + 1] : `${xff}, ${h[i + 1] as string}`;
    else if (name.length === 3 && name.toLowerCase() === 'via') via = via === undefined ? h[i + 1] : `${via}, ${h[i + 1] as string}`;
  }
  const self = VIA_SELF[head.versionMinor];
  const extra = [
    'X-Forwarded-For', xff === undefined ? client.clientAddress : `${xff}, ${client.clientAddress}`,
    'X-Forwarded-Proto', client.scheme,
    'X-Forwarded-Host', hostHeader,
    'Via', via === undefined ? self : `${via}, ${self}`,
  ];
  if (hostHeader !== head.host) extra.push('Host', hostHeader);
  if (head.upgrade !== undefined) extra.push('Connection', 'upgrade', 'Upgrade', head.upgrade);
  // An HTTP/1.0 client cannot read a chunked body: ask the backend in HTTP/1.0 (keeping the
  // upstream connection alive if it agrees), so it frames the response by length or close.
  if (head.versionMinor === 0 && cluster.config.protocol !== 'http2') extra.push('Connection', 'keep-alive');
  const alsoDrop = hostHeader !== head.host ? DROP_FORWARDED_AND_HOST : DROP_FORWARDED;
  if (cluster.config.protocol === 'http2' && head.upgrade === undefined) {
    // An HTTP/2 backend: fields, not a head. (Upgrades go over HTTP/1.1 to the same endpoint.)
    const fields = http2RequestFields(head, target, hostHeader, cluster.config.tls.enabled ? 'https' : 'http', extra, alsoDrop);
    return new Exchange(ctx, client, head, cluster, '', nowMs, fields);
  }
  // Kept as a latin1 string: socket.write encodes it straight into the write request, with no
  // Buffer allocated per request.
  const upstreamHead = buildRequestHead(head.method, target, head.headers, head.connectionTokens, extra, { alsoDrop, versionMinor: head.versionMinor });
  return new Exchange(ctx, client, head, cluster, upstreamHead, nowMs);
}

/** The access-log line and metrics of a local answer (an Exchange logs its own). */
export function logLocalAnswer(ctx: ListenerContext, client: ClientSide, head: RequestHead, answer: LocalAnswer, bytesOut: number): void {
  logExchange(ctx, client, head, null, {
    startedMs: answer.startedMs,
    status: answer.status,
    bytesOut,
    upstream: null,
    upstreamReused: false,
    ttfbMs: null,
    attempts: 0,
    error: answer.code,
    errorDetail: null,
    errno: null,
  });
}
