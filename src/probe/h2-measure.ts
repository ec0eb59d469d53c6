/**
 * Measurement 6: HTTP/2, where ALPN offers `h2` (https) or the server takes h2c with prior
 * knowledge (http). The SETTINGS the server sends, a PING round trip, whether the server pings
 * us, and, after one request, the idle time until its GOAWAY (and that GOAWAY's error code) or
 * its close, bounded by maxWaitMs.
 */
import { connect } from 'node:http2';
import type { ClientHttp2Session, SecureClientSessionOptions, Settings } from 'node:http2';
import { within, ms } from './bounded.js';
import type { ResolvedProbeOptions } from './probe-options.js';
import type { Target } from './target.js';
import { ProbeResponseError } from './probe-errors.js';

export interface H2Result {
  /** Whether the server speaks HTTP/2 on this URL; the rest is set only when it does. */
  offered: boolean;
  /** How it was reached: `alpn` (TLS) or `h2c` (prior knowledge); why not, when not offered. */
  how: 'alpn' | 'h2c' | undefined;
  notOfferedReason: string | undefined;
  maxConcurrentStreams: number | undefined;
  initialWindowSizeBytes: number | undefined;
  maxFrameSizeBytes: number | undefined;
  maxHeaderListSizeBytes: number | undefined;
  pingRoundTripMs: number | undefined;
  /** PING frames the server sent us while we watched. */
  serverPings: number;
  /** Idle time after the response until the server's GOAWAY, ms; undefined when none came. */
  idleGoawayMs: number | undefined;
  /** The GOAWAY's error code and its name (NO_ERROR = a graceful idle close). */
  goawayErrorCode: number | undefined;
  goawayErrorName: string | undefined;
  /** Idle time until the connection closed, ms (after or without a GOAWAY). */
  idleCloseMs: number | undefined;
  /** Set when the server kept the idle session to the bound. */
  keptAtLeastMs: number | undefined;
}

const NOT_OFFERED = {
  how: undefined, maxConcurrentStreams: undefined, initialWindowSizeBytes: undefined, maxFrameSizeBytes: undefined,
  maxHeaderListSizeBytes: undefined, pingRoundTripMs: undefined, serverPings: 0, idleGoawayMs: undefined,
  goawayErrorCode: undefined, goawayErrorName: undefined, idleCloseMs: undefined, keptAtLeastMs: undefined,
} as const;

/** RFC 9113 section 7 error codes, by number. */
const ERROR_NAMES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR',
  'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

function notOffered(reason: string): H2Result {
  return { offered: false, notOfferedReason: reason, ...NOT_OFFERED };
}

function openSession(target: Target, options: ResolvedProbeOptions): Promise<ClientHttp2Session> {
  const authority = `${target.url.protocol}//${target.hostHeader}`;
  const sessionOptions: SecureClientSessionOptions = { host: target.host, port: target.port, rejectUnauthorized: !target.insecure };
  if (target.servername !== undefined) sessionOptions.servername = target.servername;
  if (target.ca !== undefined) sessionOptions.ca = target.ca;
  return new Promise((resolve, reject) => {
    const session = connect(authority, sessionOptions);
    const timer = setTimeout(() => { session.destroy(); reject(new ProbeResponseError('ERR_PROBE_NO_SETTINGS', `no HTTP/2 SETTINGS within ${options.connectTimeoutMs} ms`)); }, options.connectTimeoutMs);
    timer.unref();
    session.once('remoteSettings', () => { clearTimeout(timer); session.off('error', fail); resolve(session); });
    function fail(error: Error): void {
      clearTimeout(timer);
      session.destroy();
      reject(error);
    }
    session.once('error', fail);
  });
}

function ping(session: ClientHttp2Session, timeoutMs: number): Promise<number | undefined> {
  return within(new Promise<number | undefined>((resolve) => {
    const sent = session.ping((error, duration) => resolve(error === null ? duration : undefined));
    if (!sent) resolve(undefined);
  }), timeoutMs);
}

/** Run measurement 6. `alpn` is what the TLS measurement (or a preflight) saw; null for http. */
export async function measureH2(target: Target, options: ResolvedProbeOptions, alpn: string | false | null): Promise<H2Result> {
  if (target.tls && alpn !== 'h2') return notOffered(`ALPN offered ${alpn === false ? 'nothing' : `'${alpn}'`} when asked for h2`);
  options.progress?.set('h2', target.tls ? 'HTTP/2 SETTINGS' : 'an h2c (prior knowledge) session', options.connectTimeoutMs);
  let session: ClientHttp2Session | undefined;
  try {
    try {
      session = await openSession(target, options);
    } catch (error) {
      if (target.tls) throw error;
      return notOffered(`the server does not take h2c: ${error instanceof Error ? error.message : String(error)}`);
    }
    const s = session;
    let serverPings = 0;
    s.on('ping', () => { serverPings += 1; });
    s.on('error', () => undefined);
    const settings: Settings = s.remoteSettings;
    const pingRoundTripMs = await ping(s, options.connectTimeoutMs);
    options.progress?.set('h2', 'one HTTP/2 request', options.connectTimeoutMs);
    const stream = s.request({ ':method': 'GET', ':path': target.path, 'user-agent': 'lifeline-probe' });
    stream.on('error', () => undefined);
    stream.resume();
    await within(new Promise<void>((resolve) => stream.once('close', () => resolve())), options.connectTimeoutMs);
    const idleFrom = performance.now();
    options.progress?.set('h2', 'GOAWAY on the idle session', options.maxWaitMs);
    let goaway: { at: number; code: number } | undefined;
    s.once('goaway', (code: number) => { goaway = { at: performance.now(), code }; });
    const closedAt = await within(new Promise<number>((resolve) => s.once('close', () => resolve(performance.now()))), options.maxWaitMs);
    const g = goaway as { at: number; code: number } | undefined;
    return {
      offered: true,
      how: target.tls ? 'alpn' : 'h2c',
      notOfferedReason: undefined,
      maxConcurrentStreams: settings.maxConcurrentStreams,
      initialWindowSizeBytes: settings.initialWindowSize,
      maxFrameSizeBytes: settings.maxFrameSize,
      maxHeaderListSizeBytes: settings.maxHeaderListSize,
      pingRoundTripMs: pingRoundTripMs === undefined ? undefined : Math.round(pingRoundTripMs * 100) / 100,
      serverPings,
      idleGoawayMs: g === undefined ? undefined : ms(g.at - idleFrom),
      goawayErrorCode: g?.code,
      goawayErrorName: g === undefined ? undefined : errorName(g.code),
      idleCloseMs: closedAt === undefined ? undefined : ms(closedAt - idleFrom),
      keptAtLeastMs: closedAt === undefined && g === undefined ? options.maxWaitMs : undefined,
    };
  } finally {
    session?.destroy();
    options.progress?.done('h2');
  }
}
