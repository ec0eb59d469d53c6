/**
 * Measurement 4: the server's bound on a slow client (slowloris). A request head is sent one byte
 * at a time, and separately a body (after a whole head announcing a large Content-Length); the
 * time from the first byte to the server's 408 or close is its header (or body) timeout. A server
 * whose timer restarts on every byte never cuts a client that trickles: that shows as "kept".
 */
import type { CloseReason } from '../core/close-reason.js';
import { within, ms } from './bounded.js';
import { ConnectionSet, requestHead } from './http1-connection.js';
import type { ProbeConnection } from './http1-connection.js';
import type { ResolvedProbeOptions } from './probe-options.js';
import { open } from './target.js';
import type { Target } from './target.js';

export interface SlowRequestResult {
  /** Time from the first slow byte to the server's answer or close, ms; undefined when kept. */
  timeoutMs: number | undefined;
  /** `answered`: it sent a response (408 is the timeout; another status answered without
   * waiting for the body); `closed`: it closed without a response (see `closeReason`); `kept`:
   * still reading at the bound. */
  endedBy: 'answered' | 'closed' | 'kept';
  /** How it closed, when `closed`: `peer_close` (FIN), `reset` (RST), ... */
  closeReason: CloseReason | undefined;
  /** The status it answered, if it did. */
  status: number | undefined;
  /** Slow bytes sent before it ended. */
  bytesSent: number;
  /** Time between two slow bytes, ms. */
  byteIntervalMs: number;
  /** Set when kept: the bound, ms. */
  keptAtLeastMs: number | undefined;
}

/** Bytes to trickle: endless padding header lines for a head, or body bytes. */
function* headBytes(prefix: string): Generator<string> {
  yield* prefix;
  for (let i = 0; ; i++) yield* `X-Probe-Pad-${i}: x\r\n`;
}

function* bodyBytes(): Generator<string> {
  for (;;) yield 'x';
}

async function trickle(
  conn: ProbeConnection, lead: string, bytes: Generator<string>, options: ResolvedProbeOptions, name: 'header' | 'body', what: string,
): Promise<SlowRequestResult> {
  const interval = options.slowByteIntervalMs;
  // `lead` goes out whole (a body's head); the response is read from then on.
  const answered = conn.request(lead, name === 'body' ? 'POST' : 'GET').then(
    (r) => ({ status: r.head.statusCode, at: r.endedAt }),
    () => undefined,
  );
  const started = performance.now();
  const deadline = started + options.maxWaitMs;
  let sent = 0;
  let ended: { status: number; at: number } | undefined | 'closed';
  options.progress?.set(name, `408 or close; ${what} at 1 byte / ${interval} ms`, options.maxWaitMs);
  while (performance.now() < deadline) {
    const next = bytes.next();
    if (next.done === true || conn.state === 'closed') break;
    conn.socket.write(next.value, 'latin1');
    sent += 1;
    const r = await within(Promise.race([answered, conn.closed.then(() => 'closed' as const)]), Math.min(interval, deadline - performance.now()));
    if (r !== undefined) {
      ended = r;
      break;
    }
  }
  if (ended === undefined && conn.state === 'closed') ended = 'closed';
  const base = { bytesSent: sent, byteIntervalMs: interval, closeReason: undefined };
  if (ended === undefined) return { ...base, timeoutMs: undefined, endedBy: 'kept', status: undefined, keptAtLeastMs: options.maxWaitMs };
  const response = ended === 'closed' ? await answered : ended;
  if (response !== undefined) return { ...base, timeoutMs: ms(response.at - started), endedBy: 'answered', status: response.status, keptAtLeastMs: undefined };
  const seen = await conn.closed;
  if (seen.unaskedStatus !== undefined && seen.unaskedStatus > 0) {
    return { ...base, timeoutMs: ms(seen.at - started), endedBy: 'answered', status: seen.unaskedStatus, keptAtLeastMs: undefined };
  }
  return { ...base, timeoutMs: ms(seen.at - started), endedBy: 'closed', closeReason: seen.reason, status: undefined, keptAtLeastMs: undefined };
}

/** The header timeout: a GET head, one byte at a time. */
export async function measureHeaderTimeout(target: Target, options: ResolvedProbeOptions): Promise<SlowRequestResult> {
  const set = new ConnectionSet();
  try {
    const { socket } = await open(target, options.connectTimeoutMs);
    const conn = set.add(socket);
    const prefix = requestHead(target).slice(0, -2); // without the final empty line
    return await trickle(conn, '', headBytes(prefix), options, 'header', 'head');
  } finally {
    set.close();
    options.progress?.done('header');
  }
}

/** The body timeout: a whole POST head with a Content-Length the trickle never reaches. */
export async function measureBodyTimeout(target: Target, options: ResolvedProbeOptions): Promise<SlowRequestResult> {
  const set = new ConnectionSet();
  try {
    const { socket } = await open(target, options.connectTimeoutMs);
    const conn = set.add(socket);
    const length = Math.ceil(options.maxWaitMs / options.slowByteIntervalMs) + 1_000;
    const head = requestHead(target, 'POST', `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n`);
    return await trickle(conn, head, bodyBytes(), options, 'body', 'body');
  } finally {
    set.close();
    options.progress?.done('body');
  }
}
