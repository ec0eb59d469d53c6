// Bad input: unknown option names, negative / NaN / fractional durations, wrong types, and the
// Keep-Alive header parser (any order, malformed parts ignored and reported).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionError } from '../src/core/errors.js';
import { HttpsKeepAliveAgent, KeepAliveAgent, parseKeepAliveHint } from '../src/http/client/index.js';
import { TlsSessionCache } from '../src/transport/tls-session-cache.js';

function rejects(build: () => unknown, option: string): void {
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof InvalidOptionError, `expected InvalidOptionError, got ${String(err)}`);
    assert.equal(err.option, option);
    assert.ok(err.message.includes(option), err.message);
    return true;
  });
}

describe('agent options', () => {
  it('rejects unknown option names, naming them', () => {
    rejects(() => new KeepAliveAgent({ freeSocketTimeout: 4000 } as never), 'KeepAliveAgent.freeSocketTimeout');
    rejects(() => new KeepAliveAgent({ timeout: 4000 } as never), 'KeepAliveAgent.timeout');
    rejects(() => new KeepAliveAgent({ ca: 'x' } as never), 'KeepAliveAgent.ca');
    rejects(() => new HttpsKeepAliveAgent({ maxCachedSession: 1 } as never), 'HttpsKeepAliveAgent.maxCachedSession');
    rejects(() => new KeepAliveAgent({ tcpKeepAlive: { idleMs: 1000, intervalMs: 1000, count: 3, idle: 1 } } as never), 'KeepAliveAgent.tcpKeepAlive.idle');
  });

  it('rejects negative, NaN, fractional and non-number durations', () => {
    for (const name of ['freeSocketTimeoutMs', 'socketActiveTtlMs', 'hintMarginMs', 'keepAliveHintMarginMs', 'replayMaxBytes', 'maxRequestsPerSocket', 'maxFreeSockets', 'keepAliveMsecs']) {
      for (const bad of [-1, Number.NaN, 1.5, '10', Number.POSITIVE_INFINITY]) {
        rejects(() => new KeepAliveAgent({ [name]: bad }), `KeepAliveAgent.${name}`);
      }
    }
    rejects(() => new KeepAliveAgent({ freeSocketTimeoutMs: 0 }), 'KeepAliveAgent.freeSocketTimeoutMs');
    for (const bad of [0, -1, Number.NaN, 2.5]) {
      rejects(() => new KeepAliveAgent({ maxSockets: bad }), 'KeepAliveAgent.maxSockets');
      rejects(() => new KeepAliveAgent({ maxTotalSockets: bad }), 'KeepAliveAgent.maxTotalSockets');
    }
    rejects(() => new KeepAliveAgent({ tcpKeepAlive: { idleMs: -5, intervalMs: 1000, count: 3 } }), 'KeepAliveAgent.tcpKeepAlive.idleMs');
    rejects(() => new KeepAliveAgent({ tcpKeepAlive: { idleMs: 1000, intervalMs: Number.NaN, count: 3 } }), 'KeepAliveAgent.tcpKeepAlive.intervalMs');
    rejects(() => new KeepAliveAgent({ tcpKeepAlive: { idleMs: 1000, intervalMs: 1000 } } as never), 'KeepAliveAgent.tcpKeepAlive.count');
    rejects(() => new HttpsKeepAliveAgent({ maxCachedSessions: -1 }), 'HttpsKeepAliveAgent.maxCachedSessions');
  });

  it('rejects wrong types and contradictions', () => {
    rejects(() => new KeepAliveAgent({ scheduling: 'random' } as never), 'KeepAliveAgent.scheduling');
    rejects(() => new KeepAliveAgent({ keepAlive: false } as never), 'KeepAliveAgent.keepAlive');
    rejects(() => new KeepAliveAgent({ clock: {} } as never), 'KeepAliveAgent.clock');
    rejects(() => new KeepAliveAgent('fast' as never), 'KeepAliveAgent');
    rejects(() => new HttpsKeepAliveAgent({ tlsSessionCache: {} } as never), 'HttpsKeepAliveAgent.tlsSessionCache');
    rejects(() => new HttpsKeepAliveAgent({ tlsSessionCache: new TlsSessionCache(), maxCachedSessions: 5 }), 'HttpsKeepAliveAgent.maxCachedSessions');
  });

  it('accepts the documented options and Node pass-through options', () => {
    const agent = new KeepAliveAgent({
      keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxTotalSockets: 100, maxFreeSockets: 10, freeSocketTimeoutMs: 3000,
      socketActiveTtlMs: 0, hintMarginMs: 0, maxRequestsPerSocket: 0, scheduling: 'fifo', replayMaxBytes: 0,
      tcpKeepAlive: { idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: 5000 }, keepAliveMsecs: 500, noDelay: true,
    });
    assert.equal(agent.maxSockets, Number.POSITIVE_INFINITY);
    assert.equal(agent.maxTotalSockets, 100);
    assert.equal((agent as unknown as { keepAlive: boolean }).keepAlive, true);
    agent.destroy();
    const https = new HttpsKeepAliveAgent({ rejectUnauthorized: true, servername: 'example.com', maxCachedSessions: 0 });
    assert.equal(https.tlsSessionCache.maxSessions, 0);
    https.destroy();
  });
});

describe('parseKeepAliveHint', () => {
  it('reads timeout and max in any order and case', () => {
    assert.deepEqual(parseKeepAliveHint('timeout=5, max=100'), { timeoutSeconds: 5, max: 100, malformed: false });
    assert.deepEqual(parseKeepAliveHint('MAX=3,Timeout="7"'), { timeoutSeconds: 7, max: 3, malformed: false });
    assert.deepEqual(parseKeepAliveHint('timeout=5, foo=bar'), { timeoutSeconds: 5, malformed: false });
    assert.deepEqual(parseKeepAliveHint(['timeout=9', 'timeout=4']), { timeoutSeconds: 4, malformed: false });
    assert.equal(parseKeepAliveHint(undefined), undefined);
  });

  it('ignores malformed parts and says so', () => {
    assert.deepEqual(parseKeepAliveHint('timeout=abc'), { malformed: true });
    assert.deepEqual(parseKeepAliveHint('timeout=-1, max=2'), { max: 2, malformed: true });
    assert.deepEqual(parseKeepAliveHint('timeout, max=1.5'), { malformed: true });
    assert.deepEqual(parseKeepAliveHint('timeout=99999999999'), { malformed: true });
    assert.deepEqual(parseKeepAliveHint(''), { malformed: false });
  });
});
