/**
 * How a ProbeResult is shown: `formatTable` for a terminal (one row per measurement, then the
 * verdicts), `formatJson` for machines (every figure, its unit in its key, null when not
 * measured), and `formatProgress` for the live lines while it runs.
 */
import type { CloseReason } from '../core/close-reason.js';
import type { ProgressEntry } from './progress.js';
import type { ProbeResult } from './probe.js';
import type { SlowRequestResult } from './slow-request.js';

const LABELS = {
  tcp: 'TCP', idle: 'HTTP/1.1 idle timeout', requests: 'Requests per connection', header: 'Header timeout',
  body: 'Body timeout', tls: 'TLS', h2: 'HTTP/2',
} as const;

function dur(msValue: number): string {
  if (msValue < 10_000) return `${msValue} ms`;
  if (msValue < 120_000) return `${(msValue / 1000).toFixed(1)} s`;
  return `${(msValue / 60_000).toFixed(1)} min`;
}

function yesNo(v: boolean | string): string {
  return v === true ? 'yes' : v === false ? 'no' : v === 'no_tls12' ? 'TLS 1.2 refused' : 'TLS 1.3 refused';
}

function slow(r: SlowRequestResult): string {
  const rate = `(1 byte / ${r.byteIntervalMs} ms, ${r.bytesSent} bytes)`;
  if (r.endedBy === 'kept') return `kept reading at least ${dur(r.keptAtLeastMs ?? 0)} ${rate}`;
  if (r.endedBy === 'answered') {
    return r.status === 408 ? `${r.timeoutMs ?? 0} ms, then 408 ${rate}` : `answered ${r.status ?? '?'} after ${r.timeoutMs ?? 0} ms without waiting for the rest ${rate}`;
  }
  return `${r.timeoutMs ?? 0} ms, then closed (${manner(r.closeReason)}, no response) ${rate}`;
}

/** FIN and RST as an engineer reads them; other close reasons by name. */
function manner(reason: CloseReason | undefined): string {
  return reason === 'peer_close' ? 'FIN' : reason === 'reset' ? 'RST' : reason ?? 'kept';
}

function rows(result: ProbeResult): [string, string][] {
  const out: [string, string][] = [];
  const { tcp, idle, requests, header, body, tls, h2 } = result;
  if (tcp !== undefined) out.push([LABELS.tcp, `connect ${tcp.connectMs} ms (median of ${tcp.connectSamplesMs.length}); the server's TCP keepalive is not visible from outside`]);
  if (idle !== undefined) {
    const samples = idle.samples.map((s) => (s.idleMs === undefined ? 'kept' : `${s.idleMs} ms`)).join(', ');
    const main = idle.noKeepAlive ? 'no keep-alive (Connection: close on the first response)'
      : idle.idleTimeoutMs === undefined ? `kept at least ${dur(idle.keptAtLeastMs ?? 0)} (--max-wait)`
        : `${idle.idleTimeoutMs} ms, closed by ${manner(idle.closedBy)}`;
    out.push([LABELS.idle, `${main} [${samples}${idle.strayCloses > 0 ? `; ${idle.strayCloses} stray` : ''}]`]);
    const hint = idle.hint;
    out.push(['Keep-Alive hint', hint === undefined ? 'none' : `timeout=${hint.timeoutSec ?? '-'} s, max=${hint.max ?? '-'}`]);
  }
  if (requests !== undefined) {
    const how = requests.endedBy === 'announced' ? 'last response said Connection: close'
      : requests.endedBy === 'closed' ? 'then closed without saying so' : 'still open at the bound';
    out.push([LABELS.requests, `${requests.endedBy === 'bound' ? 'at least ' : ''}${requests.requestsServed} (${how})`]);
  }
  if (header !== undefined) out.push([LABELS.header, slow(header)]);
  if (body !== undefined) out.push([LABELS.body, slow(body)]);
  if (tls !== undefined) {
    out.push([LABELS.tls, `${tls.protocol ?? '?'} ${tls.cipher}, ALPN ${tls.alpn === false ? 'none' : tls.alpn}`]);
    out.push(['  resumption', `TLS 1.2 session ID ${yesNo(tls.tls12SessionIdResumption)}, TLS 1.2 ticket ${yesNo(tls.tls12TicketResumption)}, TLS 1.3 PSK ${yesNo(tls.tls13PskResumption)}`]);
    out.push(['  ticket lifetime', tls.ticketLifetimeHintSec === undefined ? 'no ticket' : `${tls.ticketLifetimeHintSec} s (hint)`]);
    out.push(['  handshake', `full ${tls.fullHandshakeMs} ms, resumed ${tls.resumedHandshakeMs === undefined ? '-' : `${tls.resumedHandshakeMs} ms`}${tls.resumedHandshakeMs !== undefined ? (tls.resumedHandshakeMs < tls.fullHandshakeMs ? ' (shorter)' : ' (NOT shorter)') : ''}`]);
  }
  if (h2 !== undefined) {
    if (!h2.offered) out.push([LABELS.h2, `not offered: ${h2.notOfferedReason ?? ''}`]);
    else {
      out.push([LABELS.h2, `${h2.how ?? ''}: max concurrent streams ${h2.maxConcurrentStreams ?? '-'}, initial window ${h2.initialWindowSizeBytes ?? '-'} bytes, PING ${h2.pingRoundTripMs ?? '-'} ms, server pinged us ${h2.serverPings} times`]);
      const idleText = h2.idleGoawayMs !== undefined ? `GOAWAY ${h2.goawayErrorName ?? ''} after ${h2.idleGoawayMs} ms idle`
        : h2.keptAtLeastMs !== undefined ? `kept at least ${dur(h2.keptAtLeastMs)} (--max-wait)` : 'no GOAWAY';
      out.push(['  idle', `${idleText}${h2.idleCloseMs !== undefined ? `, closed after ${h2.idleCloseMs} ms` : ''}`]);
    }
  }
  return out;
}

/** The human report. */
export function formatTable(result: ProbeResult): string {
  const table = rows(result);
  const width = Math.max(...table.map(([k]) => k.length), 10);
  const behind = result.behind === undefined ? '' : `, behind ${result.behind.name} (${dur(result.behind.idleTimeoutMs)} idle)`;
  let text = `lifeline probe ${result.url}  (max wait ${dur(result.maxWaitMs)}${behind}; took ${dur(result.durationMs)})\n\n`;
  for (const [k, v] of table) text += `${k.padEnd(width)}  ${v}\n`;
  for (const e of result.errors) text += `${LABELS[e.measurement].padEnd(width)}  failed: ${e.message}\n`;
  if (result.verdicts.length > 0) {
    text += '\nVerdicts\n';
    for (const v of result.verdicts) {
      text += `  ${v.races ? 'RACE' : 'ok  '}  ${v.text}\n`;
      if (v.fix !== undefined) text += `        fix: ${v.fix}\n`;
    }
  }
  return text;
}

/** Every figure, with undefined written as null so each key is always present. */
export function formatJson(result: ProbeResult): string {
  return `${JSON.stringify(result, (_key, value: unknown) => (value === undefined ? null : value), 2)}\n`;
}

/** One line per measurement still running: elapsed and bound first (a narrow terminal cuts the
 * tail), then what it waits for. */
export function formatProgress(entries: readonly ProgressEntry[], now: number): string[] {
  const width = Math.max(...entries.map((e) => LABELS[e.name].length));
  return entries.filter((e) => !e.done).map((e) => `  ${LABELS[e.name].padEnd(width)}  ${dur(Math.round(now - e.startedAt))} of ${dur(e.boundMs)}: waiting for ${e.waitingFor}`);
}
