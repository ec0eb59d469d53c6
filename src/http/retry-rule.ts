/**
 * When a failed request may be sent again: one rule for the agent and the proxy.
 *
 * - Never once a response byte has arrived: the answer has begun, and only the caller can judge.
 * - A connect failure, or any failure before a request byte was written: always (nothing was
 *   sent, so nothing can happen twice).
 * - A failure after writing: only when the method is idempotent (RFC 9110 9.2.2) and the whole
 *   request can be sent again (its body kept within the replay limit).
 * - A response timeout: only an idempotent, replayable request (the backend may be working on it).
 * - Within the budget: `attempts` so far (the first included) below `maxAttempts`.
 */

/** RFC 9110 9.2.2: a request the client may send again without changing what it means. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** How an attempt failed. */
export type RetryFailure = 'connect-failure' | 'reset' | 'response-timeout' | 'status';

export interface RetryFacts {
  method: string;
  failure: RetryFailure;
  /** Some request bytes were handed to the connection. */
  written: boolean;
  /** The whole request (head and body) is still at hand. */
  replayable: boolean;
  /** A response byte has reached the caller. */
  responseStarted: boolean;
  /** Attempts made so far, the failed one included. */
  attempts: number;
  /** Attempts allowed in all, the first included. */
  maxAttempts: number;
}

/**
 * @example
 *   canRetry({ method: 'POST', failure: 'reset', written: true, replayable: true, responseStarted: false, attempts: 1, maxAttempts: 2 }) // false
 */
export function canRetry(f: RetryFacts): boolean {
  if (f.responseStarted || f.attempts >= f.maxAttempts) return false;
  if (f.failure === 'connect-failure' || !f.written) return true;
  return IDEMPOTENT_METHODS.has(f.method) && f.replayable;
}
