// TlsSessionCache against real TLS servers on 127.0.0.1 with openssl-made certificates: reuse
// for TLS 1.2 and 1.3, LRU bounds, and dropping sessions whose connection failed or was declined.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { ClosedError, InvalidOptionError } from '../src/core/errors.js';
import { TlsSessionCache } from '../src/transport/tls-session-cache.js';
import { handshake, makeTestCert, openTcpHandles, startTlsServer } from './helpers/tls-certs.js';
import type { HandshakeResult, TestCert } from './helpers/tls-certs.js';

const VERSIONS: SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];
let certA: TestCert;
let certB: TestCert;

before(() => {
  certA = makeTestCert();
  certB = makeTestCert();
});

after(async () => {
  assert.deepEqual(await openTcpHandles(), []);
});

function dial(cache: TlsSessionCache, port: number, version: SecureVersion, ca: Buffer = certA.cert): Promise<HandshakeResult> {
  return handshake(cache.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion: version }));
}

describe('TlsSessionCache options', () => {
  it('rejects bad maxSessions and unknown options, naming the option', () => {
    for (const bad of [-1, 1.5, 'x', Number.NaN]) {
      assert.throws(() => new TlsSessionCache({ maxSessions: bad as number }), (err: unknown) => {
        return err instanceof InvalidOptionError && err.option === 'TlsSessionCache.maxSessions';
      });
    }
    assert.throws(
      () => new TlsSessionCache({ maxSession: 3 } as never),
      (err: unknown) => err instanceof InvalidOptionError && err.option === 'TlsSessionCache.maxSession',
    );
  });

  it('maxSessions: 0 stores nothing', () => {
    const cache = new TlsSessionCache({ maxSessions: 0 });
    cache.set('a:1', Buffer.from('a'));
    assert.equal(cache.size, 0);
    assert.equal(cache.get('a:1'), undefined);
  });
});

describe('TlsSessionCache LRU', () => {
  it('evicts the least recently used past maxSessions; get refreshes recency', () => {
    const cache = new TlsSessionCache({ maxSessions: 2 });
    cache.set('a:1', Buffer.from('a'));
    cache.set('b:1', Buffer.from('b'));
    assert.ok(cache.get('a:1'));
    cache.set('c:1', Buffer.from('c'));
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b:1'), undefined);
    assert.deepEqual(cache.get('a:1'), Buffer.from('a'));
    assert.deepEqual(cache.get('c:1'), Buffer.from('c'));
    assert.deepEqual(cache.stats, { hits: 3, misses: 1, stored: 3, evicted: 1, dropped: 0, rejected: 0, resumed: 0 });
    assert.equal(cache.delete('a:1'), true);
    assert.equal(cache.delete('a:1'), false);
  });

  it('a real server evicted from a one-entry cache does a full handshake again', async () => {
    const a = await startTlsServer({ ...certA });
    const b = await startTlsServer({ ...certA });
    try {
      const cache = new TlsSessionCache({ maxSessions: 1 });
      await dial(cache, a.port, 'TLSv1.3');
      assert.equal((await dial(cache, a.port, 'TLSv1.3')).reused, true);
      await dial(cache, b.port, 'TLSv1.3'); // evicts a's session
      assert.equal(cache.size, 1);
      assert.equal((await dial(cache, a.port, 'TLSv1.3')).reused, false);
      assert.equal(cache.stats.evicted >= 1, true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

for (const version of VERSIONS) {
  describe(`TlsSessionCache with ${version}`, () => {
    it('makes the 2nd..Nth connections resume', async () => {
      const server = await startTlsServer({ ...certA });
      try {
        const cache = new TlsSessionCache();
        const results: HandshakeResult[] = [];
        for (let i = 0; i < 6; i++) results.push(await dial(cache, server.port, version));
        assert.deepEqual(results.map((r) => r.protocol), results.map(() => version));
        assert.deepEqual(results.map((r) => r.reused), [false, true, true, true, true, true]);
        const stats = cache.stats;
        assert.equal(stats.resumed, 5);
        assert.equal(stats.hits, 5);
        assert.equal(stats.misses, 1);
        assert.equal(stats.rejected, 0);
        assert.equal(cache.size, 1);
      } finally {
        await server.close();
      }
    });

    it('connectOptions + track work with a plain tls.connect', async () => {
      const server = await startTlsServer({ ...certA });
      try {
        const cache = new TlsSessionCache();
        const run = (): Promise<HandshakeResult> => {
          const socket = connect({ host: '127.0.0.1', port: server.port, ca: certA.cert, maxVersion: version, ...cache.connectOptions('127.0.0.1', server.port, 'localhost') });
          cache.track(socket, TlsSessionCache.key('localhost', server.port));
          return handshake(socket);
        };
        assert.equal((await run()).reused, false);
        assert.equal((await run()).reused, true);
        assert.equal(cache.stats.resumed, 1);
      } finally {
        await server.close();
      }
    });

    it('drops a session whose connection failed (server came back with another certificate)', async () => {
      const first = await startTlsServer({ ...certA });
      const cache = new TlsSessionCache();
      await dial(cache, first.port, version);
      assert.equal(cache.size, 1);
      await first.close();
      // Same port, new process state: other certificate and other ticket keys.
      const second = await startTlsServer({ ...certB }, first.port);
      try {
        const failed = await dial(cache, second.port, version);
        assert.equal(failed.secure, false);
        assert.match(String(failed.error), /self[- ]signed|unable to verify|certificate/i);
        assert.equal(cache.size, 0);
        assert.equal(cache.stats.dropped, 1);
      } finally {
        await second.close();
      }
    });

    it('counts a declined session and stores the new one (server restarted with new ticket keys)', async () => {
      const first = await startTlsServer({ ...certA });
      const cache = new TlsSessionCache();
      await dial(cache, first.port, version);
      const offered = cache.get(TlsSessionCache.key('localhost', first.port));
      await first.close();
      const second = await startTlsServer({ ...certA }, first.port);
      try {
        const declined = await dial(cache, second.port, version);
        assert.equal(declined.secure, true);
        assert.equal(declined.reused, false);
        assert.equal(cache.stats.rejected, 1);
        assert.notEqual(cache.get(TlsSessionCache.key('localhost', second.port)), offered);
        assert.equal((await dial(cache, second.port, version)).reused, true);
      } finally {
        await second.close();
      }
    });
  });
}

describe('TlsSessionCache close', () => {
  it('empties the cache, ignores late sessions, refuses connect', () => {
    const cache = new TlsSessionCache();
    cache.set('a:1', Buffer.from('a'));
    cache.close();
    assert.equal(cache.size, 0);
    cache.set('a:1', Buffer.from('a'));
    assert.equal(cache.size, 0);
    assert.throws(() => cache.connect({ host: '127.0.0.1', port: 1 }), ClosedError);
  });
});
