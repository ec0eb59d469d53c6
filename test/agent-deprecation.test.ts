// The agent's old option name keepAliveHintMarginMs still works for one release, with one
// DeprecationWarning per process; giving both names is an error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError } from '../src/core/errors.js';
import { KeepAliveAgent } from '../src/http/client/index.js';
import { send } from './helpers/agent-client.js';
import { startRawServer } from './helpers/agent-servers.js';

describe('keepAliveHintMarginMs (deprecated name of hintMarginMs)', () => {
  it('warns once per process, and the old name still sets the margin', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const server = await startRawServer({ keepAliveHeader: 'timeout=2' });
    try {
      // timeout=2 less a 1900 ms margin: the socket may idle 100 ms.
      const agent = new KeepAliveAgent({ keepAliveHintMarginMs: 1900 });
      new KeepAliveAgent({ keepAliveHintMarginMs: 5 }).destroy();
      new KeepAliveAgent({ hintMarginMs: 5 }).destroy();
      assert.equal((await send(agent, server.port)).status, 200);
      const deadline = Date.now() + 2000;
      while (agent.stats()[`http://127.0.0.1:${server.port}`]?.closes.hint_expiry !== 1 && Date.now() < deadline) await sleep(10);
      assert.equal(agent.stats()[`http://127.0.0.1:${server.port}`]?.closes.hint_expiry, 1);
      agent.destroy();
      // process.emitWarning delivers on the next tick.
      await sleep(10);
      const deprecations = warnings.filter((w) => w.name === 'DeprecationWarning');
      assert.equal(deprecations.length, 1);
      assert.equal((deprecations[0] as Error & { code?: string }).code, 'LIFELINE_DEP_KEEP_ALIVE_HINT_MARGIN');
      assert.match(deprecations[0]?.message ?? '', /keepAliveHintMarginMs .*hintMarginMs/);
    } finally {
      process.off('warning', onWarning);
      await server.close();
    }
  });

  it('rejects both names together, and a bad value under the old name', () => {
    assert.throws(() => new KeepAliveAgent({ hintMarginMs: 1, keepAliveHintMarginMs: 1 }), (err: unknown) => err instanceof InvalidOptionError && err.option === 'KeepAliveAgent.keepAliveHintMarginMs');
    assert.throws(() => new KeepAliveAgent({ keepAliveHintMarginMs: -1 }), (err: unknown) => err instanceof InvalidOptionError && err.option === 'KeepAliveAgent.keepAliveHintMarginMs');
  });
});
