/**
 * The one rule for re-sending an HTTP request after its connection failed, shared by the agent
 * (`src/http/client`) and the reverse proxy, so both answer "may this request be sent again?"
 * the same way.
 *
 * Rules, in the order they are applied (docs/agent.md repeats them):
 * 1. Never beyond the budget: `maxAttempts` counts every attempt, the first included, so
 *    `maxAttempts: 2` means at most one retry.
 * 2. Never after a response byte reached the caller: the answer has begun, and only the caller
 *    can judge it. (A proxy that holds back a response head to retry on its status has passed
 *    nothing on yet: that is the `status` failure.)
 * 3. A connect failure: always (nothing was sent).
 * 4. A response timeout: only an idempotent method (the server may be working on the request
 *    right now, so only a request that may run twice is sent again).
 * 5. A failure before any request byte was written: always, whatever the method (nothing of it
 *    can have reached the server; this is what moves a POST off a dead keep-alive connection).
 * 6. The peer says it did not process the request (HTTP/2 REFUSED_STREAM, or a GOAWAY whose
 *    last-stream-id is below the request's stream: RFC 9113 8.7): whatever the method, when the
 *    whole request is replayable. This is HTTP/2's answer to the keep-alive race.
 * 7. After request bytes were written (a reset, a close before the response, a response
 *    timeout, a retryable status): only an idempotent method (RFC 9110 9.2.2) whose whole request is replayable
 *    (complete, and kept within the replay limit), because the server may have acted on it.
 *
 * `avoidEndpoint`: a retry should go to another endpoint when the caller has one. Each failure
 * kind says something about the endpoint it happened on (refused, reset, closed, slow, failing), and a
 * different endpoint is never worse; a caller with a single origin (the agent) reconnects to it.
 *
 * `reusedConnection` is not part of the decision: a reset before any byte was written is as
 * safe on a fresh connection as on a reused one. It is in the facts so the decision can be logged
 * with everything it was made from; callers that only retry the keep-alive race (the agent) do
 * so by asking only for reused connections.
 */

/** The methods that may be applied twice with the effect of once (RFC 9110 section 9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** How an attempt failed. */
export type RetryFailure =
  /** The connection could not be opened (refused, unreachable, connect timeout, TLS handshake). */
  | 'connect-failure'
  /** The peer reset the connection (RST, EPIPE) while the request was on it. */
  | 'reset'
  /** The peer closed (FIN) before the first response byte. */
  | 'closed-before-response'
  /** No response byte within the response timeout. */
  | 'response-timeout'
  /** The peer said it did not process the request (HTTP/2 REFUSED_STREAM, or above a GOAWAY's
   * last-stream-id): safe to send again whatever the method. */
  | 'refused'
  /** A complete response head with a status the caller retries on (the proxy's `retryOn: [503]`),
   * held back: nothing of it reached the caller. */
  | 'status';

export const RETRY_FAILURES: readonly RetryFailure[] = ['connect-failure', 'reset', 'closed-before-response', 'response-timeout', 'refused', 'status'];

/** Everything the rule looks at, about one failed attempt. */
export interface RetryFacts {
  /** The request method as sent (methods are case-sensitive: `get` is not `GET`). */
  readonly method: string;
  /** The attempt ran on a kept-alive connection that had carried an earlier request. */
  readonly reusedConnection: boolean;
  /** At least one byte of the request was handed to the connection. */
  readonly written: boolean;
  /** The whole request (head and body) is complete and kept, within the replay limit. */
  readonly replayable: boolean;
  /** At least one response byte reached the caller (the agent's request, the proxy's client). */
  readonly responseStarted: boolean;
  readonly failure: RetryFailure;
  /** Attempts made so far, the failed one included (1 after the first attempt failed). */
  readonly attempts: number;
  /** Attempts allowed in all, the first included. */
  readonly maxAttempts: number;
}

/** Why the rule decided as it did: stable names, for logs and tests. */
export type RetryVerdict =
  | 'budget-exhausted'
  | 'response-started'
  | 'connect-failure'
  | 'nothing-written'
  | 'not-processed'
  | 'idempotent-replayable'
  | 'not-idempotent'
  | 'not-replayable';

export interface RetryDecision {
  readonly retry: boolean;
  /** The retry should use another endpoint when there is one (false when there is no retry). */
  readonly avoidEndpoint: boolean;
  readonly verdict: RetryVerdict;
}

function no(verdict: RetryVerdict): RetryDecision {
  return { retry: false, avoidEndpoint: false, verdict };
}

function yes(verdict: RetryVerdict): RetryDecision {
  return { retry: true, avoidEndpoint: true, verdict };
}

/**
 * Whether the request may be sent again after this failure (see the rules above). Pure.
 *
 * @example
 *   canRetry({ method: 'POST', reusedConnection: true, written: false, replayable: false,
 *     responseStarted: false, failure: 'reset', attempts: 1, maxAttempts: 2 })
 *   // { retry: true, avoidEndpoint: true, verdict: 'nothing-written' }
 */
export function canRetry(facts: RetryFacts): RetryDecision {
  if (!(facts.attempts < facts.maxAttempts)) return no('budget-exhausted');
  if (facts.responseStarted) return no('response-started');
  if (facts.failure === 'connect-failure') return yes('connect-failure');
  if (facts.failure === 'response-timeout' && !IDEMPOTENT_METHODS.has(facts.method)) return no('not-idempotent');
  if (!facts.written) return yes('nothing-written');
  if (facts.failure === 'refused') return facts.replayable ? yes('not-processed') : no('not-replayable');
  if (!IDEMPOTENT_METHODS.has(facts.method)) return no('not-idempotent');
  if (!facts.replayable) return no('not-replayable');
  return yes('idempotent-replayable');
}
