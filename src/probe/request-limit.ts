/**
 * Measurement 3: the most requests the server serves on one connection. Requests go one after
 * another on one connection until a response says `Connection: close` or the server closes,
 * bounded by `maxRequests` and `maxWaitMs`; whether the last response announced the close or the
 * server just closed is reported (a client only learns the second by losing a request).
 */
import { ConnectionSet, requestHead } from './http1-connection.js';
import type { ResolvedProbeOptions } from './probe-options.js';
import { open } from './target.js';
import type { Target } from './target.js';

export interface RequestLimitResult {
  /** Requests served on the connection before it ended (the limit, unless `reachedBound`). */
  requestsServed: number;
  /** `announced`: the last response said `Connection: close`; `closed`: the server closed after a
   * response without saying so; `bound`: still open at maxRequests or maxWaitMs. */
  endedBy: 'announced' | 'closed' | 'bound';
  /** The `Keep-Alive: max=` of the first response, if any. */
  hintMax: number | undefined;
  /** Whether the `Keep-Alive: max=` values counted down by one per response. */
  hintCountsDown: boolean;
}

export async function measureRequestLimit(target: Target, options: ResolvedProbeOptions): Promise<RequestLimitResult> {
  const set = new ConnectionSet();
  const deadline = performance.now() + options.maxWaitMs;
  let served = 0;
  const report = (): void => options.progress?.set('requests', `response ${served + 1} on one connection (bound ${options.maxRequests})`, options.maxWaitMs);
  report();
  try {
    const { socket } = await open(target, options.connectTimeoutMs);
    const conn = set.add(socket);
    const head = requestHead(target);
    let hintMax: number | undefined;
    let lastMax: number | undefined;
    let countsDown = true;
    while (served < options.maxRequests && performance.now() < deadline) {
      let response;
      try {
        response = await conn.request(head);
      } catch (error) {
        if (served === 0) throw error;
        return { requestsServed: served, endedBy: 'closed', hintMax, hintCountsDown: countsDown && hintMax !== undefined };
      }
      served += 1;
      if (served % 50 === 0) report();
      const max = response.head.keepAliveHint?.max;
      if (served === 1) hintMax = max;
      else if (max !== undefined && lastMax !== undefined && max !== lastMax - 1) countsDown = false;
      lastMax = max;
      if (response.head.connectionClose) {
        return { requestsServed: served, endedBy: 'announced', hintMax, hintCountsDown: countsDown && hintMax !== undefined };
      }
    }
    return { requestsServed: served, endedBy: 'bound', hintMax, hintCountsDown: countsDown && hintMax !== undefined };
  } finally {
    set.close();
    options.progress?.done('requests');
  }
}
