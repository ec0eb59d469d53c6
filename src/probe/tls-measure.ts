/**
 * Measurement 5: TLS. The negotiated protocol and cipher; whether the server resumes a TLS 1.2
 * session by session ID (the client refuses tickets: SSL_OP_NO_TICKET) and by ticket, and a
 * TLS 1.3 session by PSK; the ticket lifetime hint; and the handshake time, full against resumed
 * (medians of a few each), so "resumption works" is checked against "and it is cheaper".
 *
 * Each handshake runs a HEAD request with `Connection: close`, because a TLS 1.3 server sends its
 * tickets only after the handshake, with the first data.
 */
import { constants } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { within, median } from './bounded.js';
import type { ResolvedProbeOptions } from './probe-options.js';
import { open } from './target.js';
import type { Target, TlsExtra } from './target.js';
import { sessionFields } from './tls-session-der.js';

export interface TlsResult {
  protocol: string | null;
  cipher: string;
  /** ALPN the server chose when offered h2 and http/1.1 (false: none). */
  alpn: string | false;
  /** TLS 1.2 resumption by session ID (client sent no ticket extension). */
  tls12SessionIdResumption: boolean | 'no_tls12';
  /** TLS 1.2 resumption by session ticket. */
  tls12TicketResumption: boolean | 'no_tls12';
  /** TLS 1.3 resumption by PSK (a ticket from NewSessionTicket). */
  tls13PskResumption: boolean | 'no_tls13';
  /** Ticket lifetime hint from the server's NewSessionTicket, s (TLS 1.3 if offered, else 1.2). */
  ticketLifetimeHintSec: number | undefined;
  /** Median full handshake (after TCP connect), ms. */
  fullHandshakeMs: number;
  /** Median resumed handshake, ms; undefined when nothing resumed. */
  resumedHandshakeMs: number | undefined;
}

interface Shake {
  protocol: string | null;
  cipher: string;
  alpn: string | false;
  reused: boolean;
  handshakeMs: number;
  session: Buffer | undefined;
  /** A TLS 1.2 ticket the server sent in this handshake. */
  ticket: boolean;
}

async function shake(target: Target, options: ResolvedProbeOptions, extra: TlsExtra): Promise<Shake> {
  const opened = await open(target, options.connectTimeoutMs, extra);
  const socket = opened.socket as TLSSocket;
  // Read what the handshake decided now: after the close these read as null.
  const result: Shake = {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? '',
    alpn: socket.alpnProtocol ?? false,
    reused: socket.isSessionReused(),
    handshakeMs: opened.handshakeMs,
    session: undefined,
    ticket: socket.getTLSTicket() !== undefined,
  };
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`HEAD ${target.path} HTTP/1.1\r\nHost: ${target.hostHeader}\r\nUser-Agent: lifeline-probe\r\nConnection: close\r\n\r\n`);
  await within(closed, options.connectTimeoutMs);
  result.session = opened.sessions.at(-1);
  result.ticket ||= result.session !== undefined && sessionFields(result.session).hasTicket;
  socket.destroy();
  return result;
}

/** A full handshake, then one resuming its session: [full, resumed or undefined]. */
async function pair(target: Target, options: ResolvedProbeOptions, extra: TlsExtra): Promise<[Shake, Shake | undefined]> {
  const full = await shake(target, options, extra);
  if (full.session === undefined) return [full, undefined];
  return [full, await shake(target, options, { ...extra, session: full.session })];
}

async function supports(target: Target, options: ResolvedProbeOptions, version: 'TLSv1.2' | 'TLSv1.3'): Promise<[Shake, Shake | undefined] | undefined> {
  try {
    return await pair(target, options, { minVersion: version, maxVersion: version });
  } catch {
    return undefined; // the version is refused: a handshake alert
  }
}

export async function measureTls(target: Target, options: ResolvedProbeOptions): Promise<TlsResult> {
  options.progress?.set('tls', 'TLS handshakes (full, resumed; 1.2, 1.3)', options.connectTimeoutMs * 12);
  try {
    const first = await shake(target, options, { ALPNProtocols: ['h2', 'http/1.1'] });
    const tls13 = await supports(target, options, 'TLSv1.3');
    const tls12Ticket = await supports(target, options, 'TLSv1.2');
    let tls12Id: [Shake, Shake | undefined] | undefined;
    if (tls12Ticket !== undefined) {
      tls12Id = await pair(target, options, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET });
    }
    // Timing: the default version, full and resumed, three of each, after the warm-up above.
    const full: number[] = [];
    const resumed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [a, b] = await pair(target, options, {});
      full.push(a.handshakeMs);
      if (b?.reused === true) resumed.push(b.handshakeMs);
    }
    const hintFrom = tls13?.[0].session ?? tls12Ticket?.[0].session;
    return {
      protocol: first.protocol,
      cipher: first.cipher,
      alpn: first.alpn,
      tls13PskResumption: tls13 === undefined ? 'no_tls13' : tls13[1]?.reused === true,
      tls12TicketResumption: tls12Ticket === undefined ? 'no_tls12' : tls12Ticket[0].ticket && tls12Ticket[1]?.reused === true,
      tls12SessionIdResumption: tls12Id === undefined ? 'no_tls12' : tls12Id[1]?.reused === true,
      ticketLifetimeHintSec: hintFrom === undefined ? undefined : sessionFields(hintFrom).ticketLifetimeHintSec,
      fullHandshakeMs: Math.round(median(full) * 100) / 100,
      resumedHandshakeMs: resumed.length === 0 ? undefined : Math.round(median(resumed) * 100) / 100,
    };
  } finally {
    options.progress?.done('tls');
  }
}

