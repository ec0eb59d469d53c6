// The one retry rule (src/http/retry-rule.ts): its truth table row by row, then the properties
// every combination of facts must keep (checked over the whole product of the facts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDEMPOTENT_METHODS, RETRY_FAILURES, canRetry } from '../src/http/retry-rule.js';
import type { RetryFacts, RetryFailure } from '../src/http/retry-rule.js';

const base: RetryFacts = {
  method: 'GET', reusedConnection: true, written: true, replayable: true, responseStarted: false,
  failure: 'reset', attempts: 1, maxAttempts: 2,
};

function decide(over: Partial<RetryFacts>): [boolean, string] {
  const d = canRetry({ ...base, ...over });
  return [d.retry, d.verdict];
}

describe('retry rule: truth table', () => {
  it('the idempotent set is exactly RFC 9110 9.2.2', () => {
    assert.deepEqual([...IDEMPOTENT_METHODS].sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'TRACE']);
  });

  const rows: [string, Partial<RetryFacts>, boolean, string][] = [
    ['GET reset after writing, replayable', {}, true, 'idempotent-replayable'],
    ['GET closed before response, replayable', { failure: 'closed-before-response' }, true, 'idempotent-replayable'],
    ['GET reset, not replayable (over the limit)', { replayable: false }, false, 'not-replayable'],
    ['POST reset after writing', { method: 'POST' }, false, 'not-idempotent'],
    ['PATCH closed after writing', { method: 'PATCH', failure: 'closed-before-response' }, false, 'not-idempotent'],
    ['POST reset before any byte written', { method: 'POST', written: false, replayable: false }, true, 'nothing-written'],
    ['POST closed before any byte written', { method: 'POST', written: false, failure: 'closed-before-response' }, true, 'nothing-written'],
    ['POST connect failure', { method: 'POST', failure: 'connect-failure', replayable: false }, true, 'connect-failure'],
    ['CONNECT connect failure on a fresh connection', { method: 'CONNECT', failure: 'connect-failure', reusedConnection: false }, true, 'connect-failure'],
    ['GET after a response byte', { responseStarted: true }, false, 'response-started'],
    ['GET connect failure never reaches here after a response byte', { responseStarted: true, failure: 'connect-failure' }, false, 'response-started'],
    ['POST after a response byte, nothing written (impossible, still no)', { method: 'POST', responseStarted: true, written: false }, false, 'response-started'],
    ['GET response timeout, replayable', { failure: 'response-timeout' }, true, 'idempotent-replayable'],
    ['GET response timeout, not replayable', { failure: 'response-timeout', replayable: false }, false, 'not-replayable'],
    ['POST response timeout', { method: 'POST', failure: 'response-timeout' }, false, 'not-idempotent'],
    ['POST response timeout, nothing written', { method: 'POST', failure: 'response-timeout', written: false }, false, 'not-idempotent'],
    ['PUT reset, replayable', { method: 'PUT' }, true, 'idempotent-replayable'],
    ['GET retryable status, replayable', { failure: 'status' }, true, 'idempotent-replayable'],
    ['GET retryable status, not replayable', { failure: 'status', replayable: false }, false, 'not-replayable'],
    ['POST retryable status', { method: 'POST', failure: 'status' }, false, 'not-idempotent'],
    ['GET status after the response was passed on', { failure: 'status', responseStarted: true }, false, 'response-started'],
    ['lower-case get is not GET', { method: 'get' }, false, 'not-idempotent'],
    ['budget spent: second attempt of two', { attempts: 2 }, false, 'budget-exhausted'],
    ['budget spent even for a connect failure', { attempts: 2, failure: 'connect-failure' }, false, 'budget-exhausted'],
    ['maxAttempts 1 means no retry', { maxAttempts: 1 }, false, 'budget-exhausted'],
    ['third attempt of three allowed after two', { attempts: 2, maxAttempts: 3 }, true, 'idempotent-replayable'],
    ['fresh connection: same rule as reused', { reusedConnection: false }, true, 'idempotent-replayable'],
    ['POST refused by HTTP/2 (GOAWAY above last-stream-id), replayable', { method: 'POST', failure: 'refused' }, true, 'not-processed'],
    ['PATCH refused (REFUSED_STREAM), replayable', { method: 'PATCH', failure: 'refused' }, true, 'not-processed'],
    ['POST refused, body over the replay limit', { method: 'POST', failure: 'refused', replayable: false }, false, 'not-replayable'],
    ['POST refused after a response byte', { method: 'POST', failure: 'refused', responseStarted: true }, false, 'response-started'],
    ['POST refused, budget spent', { method: 'POST', failure: 'refused', attempts: 2 }, false, 'budget-exhausted'],
  ];
  for (const [name, over, retry, verdict] of rows) {
    it(name, () => {
      assert.deepEqual(decide(over), [retry, verdict]);
    });
  }

  it('a retry avoids the endpoint that failed; no retry avoids nothing', () => {
    for (const failure of RETRY_FAILURES) {
      assert.equal(canRetry({ ...base, failure }).avoidEndpoint, true, failure);
      assert.equal(canRetry({ ...base, failure, attempts: 2 }).avoidEndpoint, false, failure);
    }
  });
});

describe('retry rule: properties over every combination', () => {
  const methods = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'POST', 'PATCH', 'CONNECT'];
  const bools = [false, true];
  const all: RetryFacts[] = [];
  for (const method of methods) {
    for (const reusedConnection of bools) {
      for (const written of bools) {
        for (const replayable of bools) {
          for (const responseStarted of bools) {
            for (const failure of RETRY_FAILURES as RetryFailure[]) {
              for (const [attempts, maxAttempts] of [[1, 1], [1, 2], [2, 2], [1, 3], [3, 3]] as const) {
                all.push({ method, reusedConnection, written, replayable, responseStarted, failure, attempts, maxAttempts });
              }
            }
          }
        }
      }
    }
  }

  it('covers the whole product', () => {
    assert.equal(all.length, 9 * 2 * 2 * 2 * 2 * 6 * 5);
  });

  it('never retries after a response byte, nor beyond the budget', () => {
    for (const f of all) {
      if (f.responseStarted || f.attempts >= f.maxAttempts) assert.equal(canRetry(f).retry, false, JSON.stringify(f));
    }
  });

  it('never re-sends written bytes of a non-idempotent or non-replayable request (unless the peer said it did not process it)', () => {
    for (const f of all) {
      if (f.failure === 'connect-failure' || !f.written) continue;
      if (f.failure === 'refused' ? !f.replayable : !IDEMPOTENT_METHODS.has(f.method) || !f.replayable) assert.equal(canRetry(f).retry, false, JSON.stringify(f));
    }
  });

  it('re-sends a refused (not processed) request whatever its method, when it is replayable, within budget and before a response', () => {
    for (const f of all) {
      if (f.failure !== 'refused' || !f.written) continue;
      assert.equal(canRetry(f).retry, f.replayable && !f.responseStarted && f.attempts < f.maxAttempts, JSON.stringify(f));
    }
  });

  it('always retries, within budget and before a response, a connect failure or an unwritten request (but a timed-out non-idempotent one)', () => {
    for (const f of all) {
      if (f.responseStarted || f.attempts >= f.maxAttempts) continue;
      const unwritten = !f.written && !(f.failure === 'response-timeout' && !IDEMPOTENT_METHODS.has(f.method));
      if (f.failure === 'connect-failure' || unwritten) assert.equal(canRetry(f).retry, true, JSON.stringify(f));
    }
  });

  it('does not depend on whether the connection was reused', () => {
    for (const f of all) {
      assert.deepEqual(canRetry(f), canRetry({ ...f, reusedConnection: !f.reusedConnection }));
    }
  });
});
