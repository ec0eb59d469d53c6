/**
 * Fence: the check a protected resource makes with a lease's fencing token (Kleppmann, "How to
 * do distributed locking"). A lease alone cannot give mutual exclusion: a holder paused (GC,
 * swap, a stopped VM) past its TTL wakes up still believing it holds the lease. The resource
 * remembers the highest token it has accepted and refuses any write that carries a lower one.
 *
 * This one lives in memory, for a resource in one process; a shared resource (a database row)
 * makes the same comparison in its own transaction: `UPDATE ... WHERE fence_token <= $token`.
 */
import { StaleTokenError } from './lease-errors.js';
import { checkToken } from './lease-store.js';

/**
 * @example
 *   const fence = new Fence('reports table');
 *   app.post('/reports', (req) => { fence.admit(Number(req.headers['fencing-token'])); save(req); });
 */
export class Fence {
  readonly resource: string;
  #highest = 0;
  #refused = 0;

  constructor(resource = 'resource') {
    this.resource = resource;
  }

  /** Highest token admitted so far (0 before any). */
  get highestToken(): number {
    return this.#highest;
  }

  /** Writes refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /** True (and remembered) when `token` is at least the highest seen; false when stale. */
  tryAdmit(token: number): boolean {
    const t = checkToken(token) ?? 0;
    if (t < this.#highest) {
      this.#refused += 1;
      return false;
    }
    this.#highest = t;
    return true;
  }

  /** Like `tryAdmit` but throws `StaleTokenError` (ERR_LEASE_STALE_TOKEN) for a stale token. */
  admit(token: number): void {
    if (!this.tryAdmit(token)) throw new StaleTokenError(token, this.#highest, this.resource);
  }
}
