// The close-reason vocabulary's helpers: the CloseInfo a socket error stands for (reason by errno,
// layer tcp or tls), a CloseInfo's side (the reason's own unless the peer decided), and the table
// itself (every reason has a side and a meaning; the layers are the documented ones).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSE_LAYERS, CLOSE_REASONS, closeInfo, closeInfoFromError } from '../src/core/close-reason.js';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

test('closeInfoFromError: the reason by errno, noticed by tcp, or tls for a TLS failure', () => {
  const cases: [unknown, string, string, string][] = [
    [withCode('ECONNRESET'), 'reset', 'remote', 'tcp'],
    [withCode('EPIPE'), 'reset', 'remote', 'tcp'],
    [withCode('ETIMEDOUT'), 'tcp_timeout', 'remote', 'tcp'],
    [withCode('ERR_SSL_WRONG_VERSION_NUMBER'), 'tls_error', 'remote', 'tls'],
    [withCode('EPROTO'), 'tls_error', 'remote', 'tls'],
    [withCode('EHOSTUNREACH'), 'error', 'remote', 'tcp'],
    [new Error('no code'), 'error', 'remote', 'tcp'],
    [undefined, 'error', 'remote', 'tcp'],
  ];
  for (const [error, reason, side, layer] of cases) {
    const info = closeInfoFromError(error);
    assert.deepEqual([info.reason, info.side, info.layer], [reason, side, layer], String((error as { code?: string } | undefined)?.code));
  }
});

test("closeInfo: the reason's own side unless the peer decided", () => {
  assert.deepEqual(closeInfo('heartbeat_timeout', 'tunnel'), { reason: 'heartbeat_timeout', side: 'local', layer: 'tunnel' });
  assert.deepEqual(closeInfo('peer_idle_close', 'pool'), { reason: 'peer_idle_close', side: 'remote', layer: 'pool' });
  assert.deepEqual(closeInfo('auth_failed', 'tunnel', 'remote'), { reason: 'auth_failed', side: 'remote', layer: 'tunnel' });
});

test('the table: snake_case names, each with a side and a meaning; the seven layers', () => {
  for (const [reason, info] of Object.entries(CLOSE_REASONS)) {
    assert.match(reason, /^[a-z]+(_[a-z]+)*$/, reason);
    assert.ok(info.side === 'local' || info.side === 'remote', reason);
    assert.ok(info.meaning.length > 10, reason);
  }
  assert.equal(CLOSE_REASONS.peer_idle_close.side, 'remote');
  assert.deepEqual([...CLOSE_LAYERS], ['tcp', 'tls', 'http1', 'http2', 'websocket', 'tunnel', 'pool']);
});
