/**
 * The proxy's retry decision: lifeline's one retry rule (src/http/retry-rule.ts) under a
 * cluster's `retries` settings: the causes it allows (`retryOn`), its attempt count and its time
 * budget; and how long a retry may wait for its response when a budget is set.
 */
import { canRetry } from '../../http/retry-rule.js';
import type { RetryFacts } from '../../http/retry-rule.js';
import type { ClusterConfig, RetryCondition } from '../config/index.js';

export interface ProxyRetryFacts extends Omit<RetryFacts, 'maxAttempts'> {
  /** The cause as `retryOn` names it. */
  condition: RetryCondition;
  /** Time since the request began. */
  elapsedMs: number;
}

/** Whether the request may be tried again now. */
export function mayRetry(retries: ClusterConfig['retries'], facts: ProxyRetryFacts): boolean {
  if (!retries.retryOn.includes(facts.condition)) return false;
  if (retries.timeBudgetMs > 0 && facts.elapsedMs >= retries.timeBudgetMs) return false;
  return canRetry({ ...facts, maxAttempts: retries.maxAttempts }).retry;
}

/**
 * The response timeout of attempt number `attempts`: the cluster's, cut to what is left of the
 * time budget for a retry, so retries cannot multiply the client's wait.
 */
export function attemptTimeoutMs(cluster: ClusterConfig, attempts: number, elapsedMs: number): number {
  const timeoutMs = cluster.timeouts.responseHeadersTimeoutMs;
  const budgetMs = cluster.retries.timeBudgetMs;
  if (budgetMs <= 0 || attempts <= 1) return timeoutMs;
  const leftMs = Math.max(1, budgetMs - elapsedMs);
  return timeoutMs <= 0 ? leftMs : Math.min(timeoutMs, leftMs);
}
