/**
 * Measurements 2 and 8: what the figures mean for the client or the component in front.
 *
 * Rules (RACE_MARGIN_MS = 1 s covers network delay and timer slack):
 * - Hint honesty: a server that closes an idle connection before its own `Keep-Alive: timeout=`
 *   (by more than 30 ms, the probe's resolution) races every client that trusts the hint; one
 *   that serves fewer requests than its first `max=` races the same way; one that closes after
 *   its last response without `Connection: close` makes the client find out by a failed request.
 * - Behind: the front keeps an idle connection to the server for X; the server closes after Y.
 *   If X >= Y - margin, the front will send a request on a connection the server is closing (the
 *   classic 502 behind a load balancer). Fix: server idle above X + margin, or the front's below
 *   Y - margin.
 * - Without a front: a client pool must keep idle connections under Y - margin.
 */
import type { IdleResult } from './idle-timeout.js';
import { RACE_MARGIN_MS } from './probe-options.js';
import type { Behind } from './probe-options.js';
import type { RequestLimitResult } from './request-limit.js';

export interface Verdict {
  /** What it is about. */
  topic: 'hint_timeout' | 'hint_max' | 'request_limit' | 'behind' | 'client_pool' | 'no_keep_alive';
  /** True when someone will race this server's close. */
  races: boolean;
  /** The finding, plainly. */
  text: string;
  /** What to change, on which side, with which setting; undefined when nothing need change. */
  fix: string | undefined;
}

function sec(msValue: number): string {
  return msValue % 1000 === 0 ? `${msValue / 1000} s` : `${(msValue / 1000).toFixed(3)} s`;
}

function hintVerdicts(idle: IdleResult | undefined, limit: RequestLimitResult | undefined): Verdict[] {
  const out: Verdict[] = [];
  const hintSec = idle?.hint?.timeoutSec;
  if (idle !== undefined && hintSec !== undefined) {
    const hintMs = hintSec * 1000;
    const y = idle.idleTimeoutMs;
    if (y !== undefined && y + 30 < hintMs) {
      out.push({
        topic: 'hint_timeout', races: true,
        text: `closes idle connections after ${y} ms, ${hintMs - y} ms before its own hint (Keep-Alive: timeout=${hintSec}): a client that trusts the hint will race it`,
        fix: 'server side: advertise a timeout below the real idle timeout, or raise the idle timeout above the hint (lifeline/server keepAlive({ idleTimeoutMs, hintMarginMs }) keeps them consistent; in Node do not write a Keep-Alive header by hand, http.Server derives it from keepAliveTimeout)',
      });
    } else if (y !== undefined) {
      out.push({ topic: 'hint_timeout', races: false, text: `closes idle connections ${y - hintMs} ms after its hint (Keep-Alive: timeout=${hintSec}): safe for a client that trusts the hint`, fix: undefined });
    } else if ((idle.keptAtLeastMs ?? 0) >= hintMs) {
      out.push({ topic: 'hint_timeout', races: false, text: `kept idle connections at least ${idle.keptAtLeastMs ?? 0} ms, past its hint (Keep-Alive: timeout=${hintSec})`, fix: undefined });
    } else {
      out.push({ topic: 'hint_timeout', races: false, text: `inconclusive: kept idle connections the whole ${idle.keptAtLeastMs ?? 0} ms, shorter than its hint (Keep-Alive: timeout=${hintSec}); run with --max-wait above ${hintMs} ms to compare`, fix: undefined });
    }
  }
  if (limit !== undefined) {
    if (limit.hintMax !== undefined && limit.endedBy !== 'bound' && limit.requestsServed < limit.hintMax) {
      out.push({
        topic: 'hint_max', races: true,
        text: `served ${limit.requestsServed} requests on a connection whose first response promised max=${limit.hintMax}: a client that trusts the hint will send into a closing connection`,
        fix: 'server side: send Keep-Alive: max= as the requests it will really serve, or none',
      });
    }
    if (limit.endedBy === 'closed') {
      out.push({
        topic: 'request_limit', races: true,
        text: `closed the connection after ${limit.requestsServed} requests without Connection: close on the last response: the client learns it by a failed request`,
        fix: 'server side: say Connection: close on the last response it will serve (nginx keepalive_requests and Node maxRequestsPerSocket do)',
      });
    }
  }
  return out;
}

function behindVerdict(idle: IdleResult, behind: Behind, maxWaitMs: number): Verdict {
  const x = behind.idleTimeoutMs;
  const y = idle.idleTimeoutMs;
  const front = behind.name === 'custom' ? `the component in front (idle ${sec(x)})` : `${behind.name} (${behind.what})`;
  if (y === undefined) {
    if (maxWaitMs >= x + RACE_MARGIN_MS) {
      return { topic: 'behind', races: false, text: `the server kept idle connections at least ${sec(maxWaitMs)}, longer than ${front} keeps them: no race`, fix: undefined };
    }
    return {
      topic: 'behind', races: false,
      text: `inconclusive: the server kept idle connections at least ${sec(maxWaitMs)}, but ${front} keeps them ${sec(x)}; run with --max-wait above ${sec(x + RACE_MARGIN_MS)} to decide`,
      fix: undefined,
    };
  }
  if (x >= y - RACE_MARGIN_MS) {
    const target = Math.ceil((x + 5_000) / 1000);
    return {
      topic: 'behind', races: true,
      text: `${front} keeps an idle connection to this server up to ${sec(x)}, but the server closes it after ${sec(y)}: the front will send requests into connections the server is closing (502/504 at the front)`,
      fix: `server side: raise its idle timeout above ${sec(x + RACE_MARGIN_MS)}, e.g. ${target} s: Node server.keepAliveTimeout = ${target * 1000 - 1000} (Node closes 1 s after it; set headersTimeout above it too), nginx keepalive_timeout ${target}s, lifeline/server keepAlive(server, { idleTimeoutMs: ${target * 1000} }); or front side: lower its idle timeout below ${sec(Math.max(0, y - RACE_MARGIN_MS))}`,
    };
  }
  return { topic: 'behind', races: false, text: `${front} keeps idle connections ${sec(x)}, the server ${sec(y)}: the front closes first, no race`, fix: undefined };
}

/** Every verdict the figures allow. */
export function verdicts(idle: IdleResult | undefined, limit: RequestLimitResult | undefined, behind: Behind | undefined, maxWaitMs: number): Verdict[] {
  const out: Verdict[] = [];
  if (idle?.noKeepAlive === true) {
    out.push({ topic: 'no_keep_alive', races: false, text: 'the server answered Connection: close to the first request: it keeps no connection alive', fix: undefined });
    return out;
  }
  out.push(...hintVerdicts(idle, limit));
  if (idle === undefined) return out;
  if (behind !== undefined) {
    out.push(behindVerdict(idle, behind, maxWaitMs));
  } else if (idle.idleTimeoutMs !== undefined) {
    const keep = Math.max(0, idle.idleTimeoutMs - RACE_MARGIN_MS);
    out.push({
      topic: 'client_pool', races: false,
      text: `a client pool must keep idle connections to this server under ${keep} ms (its idle timeout ${idle.idleTimeoutMs} ms less a ${RACE_MARGIN_MS} ms margin)`,
      fix: `client side: lifeline agent freeSocketTimeoutMs: ${keep}; undici keepAliveTimeout: ${keep}`,
    });
  } else {
    out.push({ topic: 'client_pool', races: false, text: `the server kept idle connections at least ${maxWaitMs} ms: a client pool idle timeout below that is safe`, fix: undefined });
  }
  return out;
}
