/**
 * HTTP/2 floods against the proxy's client side, each from its own attacker process with raw
 * frames (test/helpers/h2-attacker.ts), while a normal HTTP/2 client keeps making requests:
 * every attacking session ends in GOAWAY with the attack's error code (ENHANCE_YOUR_CALM and
 * debug data for the floods the proxy accounts itself, nghttp2's INTERNAL_ERROR for the ones it
 * bounds), each is counted in the listener's metrics (a `flood` close, and a code per attack),
 * and the normal client's median latency stays within 2x of its quiet value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import { join } from 'node:path';
import { startBackend, startH2Proxy, run, ROOT_DIST } from './helpers/proxy-http2.js';
import { FLAG, FRAME, frame, getHeaderBlock, rawSession } from './helpers/h2-raw.js';

const ATTACKER = join(ROOT_DIST, 'test', 'helpers', 'h2-attacker.js');
const SAMPLES = 60;

async function get(session: http2.ClientHttp2Session): Promise<number> {
  const from = performance.now();
  const req = session.request({ ':path': '/small' });
  req.resume();
  const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
  await once(req, 'end');
  assert.equal(headers[':status'], 200);
  return performance.now() - from;
}

/** Median latency of SAMPLES sequential requests, 5 ms apart (a steady, light client). */
async function medianMs(session: http2.ClientHttp2Session): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    times.push(await get(session));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  times.sort((a, b) => a - b);
  return times[SAMPLES >> 1] as number;
}

const ATTACKS = [
  { kind: 'rapid_reset', goaway: `GOAWAY 11 rapid_reset`, code: 'ERR_HTTP2_RAPID_RESET' },
  { kind: 'ping', goaway: `GOAWAY 11 too_many_pings`, code: 'ERR_HTTP2_PING_FLOOD' },
  { kind: 'settings', goaway: `GOAWAY 11 settings_flood`, code: 'ERR_HTTP2_SETTINGS_FLOOD' },
  { kind: 'continuation', goaway: `GOAWAY 2 `, code: 'ERR_HTTP2_CONTINUATION_FLOOD' },
  { kind: 'empty_data', goaway: `GOAWAY 2 `, code: 'ERR_HTTP2_INVALID_FRAME_FLOOD' },
  { kind: 'oversized_headers', goaway: `GOAWAY 11 rejected_streams`, code: 'ERR_HTTP2_REJECTED_STREAM_FLOOD' },
] as const;

for (const attack of ATTACKS) {
  test(`${attack.kind} flood: every attacking session gets "${attack.goaway.trim()}", counted; a normal client's median within 2x of quiet`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend();
    t.after(() => backend.close());
    const h2 = await startH2Proxy(backend.port, 'client:\n  http2: { pingIntervalMs: 0 }\n');
    t.after(() => h2.close());
    const session = http2.connect(`http://127.0.0.1:${h2.clearPort}`);
    session.on('error', () => undefined);
    t.after(() => session.destroy());
    await get(session); // connected and warm
    const quiet = await medianMs(session);

    const attacker = run(process.execPath, [ATTACKER, String(h2.clearPort), attack.kind, '4000'], 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the attack under way
    const loaded = await medianMs(session);
    const result = await attacker;
    assert.equal(result.code, 0, result.stderr);
    const { sessions, endings } = JSON.parse(result.stdout.toString('utf8')) as { sessions: number; endings: Record<string, number> };
    assert.ok(sessions >= 2, `the attacker ran ${sessions} sessions`);
    const goaways = Object.entries(endings).filter(([how]) => how.startsWith(attack.goaway)).reduce((n, [, c]) => n + c, 0);
    // An attacker still writing after the server closed draws an RST from its kernel, which
    // discards the GOAWAY it had not read yet (a few % of sessions here): a close stands in.
    const closes = endings['closed without GOAWAY'] ?? 0;
    const refused = goaways + closes;
    // The last session may be cut by the attacker's own deadline.
    assert.ok(refused >= sessions - 1, `endings: ${JSON.stringify(endings)}`);
    assert.ok(goaways >= 0.9 * sessions, `GOAWAY for most sessions: ${JSON.stringify(endings)}`);

    const stats = h2.proxy.metrics.listener('clear').stats();
    assert.ok((stats.rqRejected[attack.code] ?? 0) >= refused, `${attack.code} counted: ${JSON.stringify(stats.rqRejected)}`);
    assert.ok(stats.cxClosed.flood >= refused, `flood closes: ${stats.cxClosed.flood}`);
    assert.equal(session.closed || session.destroyed, false, 'the normal client kept its session');
    assert.ok(loaded <= 2 * quiet, `median ${loaded.toFixed(2)} ms under attack vs ${quiet.toFixed(2)} ms quiet`);
  });
}

test('slow read: a client that never opens its window holds no backend past idleStreamTimeoutMs: its stream is reset, the session and others go on', { timeout: 30_000 }, async (t) => {
  const backend = await startBackend();
  t.after(() => backend.close());
  const h2 = await startH2Proxy(backend.port, 'client:\n  http2: { pingIntervalMs: 0 }\n', '    timeouts: { idleStreamTimeoutMs: 500 }\n');
  t.after(() => h2.close());
  // SETTINGS_INITIAL_WINDOW_SIZE 0: no DATA may be sent on any stream it opens.
  const s = await rawSession(h2.clearPort, [[0x4, 0]]);
  t.after(() => s.socket.destroy());
  const from = performance.now();
  s.write(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1, getHeaderBlock(`127.0.0.1:${h2.clearPort}`, '/big')));
  const until = performance.now() + 5_000;
  while (s.resets.length === 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  const reset = s.resets[0];
  assert.ok(reset !== undefined, 'the stalled stream was reset');
  assert.equal(reset.stream, 1);
  const ms = reset.atMs - from;
  assert.ok(ms >= 450 && ms < 3_000, `reset ${ms.toFixed(0)} ms after the request (idleStreamTimeoutMs 500)`);
  assert.deepEqual(s.headers, [1], 'the response head had gone out');
  assert.equal(s.goaway, undefined, 'the session itself is not ended for one stalled stream');
  const pools = (h2.proxy.stats() as { pools: Record<string, { active: number }[]> }).pools;
  assert.equal(pools.web?.[0]?.active, 0, 'the backend connection was given up');

  // The same session still serves a stream it can read (a small response fits a window update).
  s.write(frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0xff, 0xff])));
  s.write(frame(FRAME.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff])));
  s.write(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 3, getHeaderBlock(`127.0.0.1:${h2.clearPort}`)));
  const until2 = performance.now() + 5_000;
  while (!s.headers.includes(3) && performance.now() < until2) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(s.headers.includes(3), 'a later stream on the same session is answered');
});
