/**
 * `lifeline lease serve` as its own process: serves the API with a memory or a Redis store,
 * takes its bearer token from the environment, stops cleanly on SIGTERM.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testRedis, uniquePrefix } from './helpers/redis.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const cli = fileURLToPath(new URL('./helpers/dbus-awake-cli.js', import.meta.url));
const TOKEN = 'cli-test-token-0123456789';
const redis = await testRedis();
const redisSkip = skipFor('lease-cli (Redis)', typeof redis === 'string' ? redis : undefined);
after(async () => {
  if (typeof redis !== 'string') await redis.server?.stop();
});

async function serve(extra: string[]): Promise<void> {
  const child = spawn(process.execPath, [cli, 'lease', 'serve', '--port', '0', ...extra], { env: { ...process.env, LIFELINE_LEASE_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /serving (http:\/\/[^/\s]+)\/leases/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`lease serve exited ${code}: ${stderr}`)));
  });
  const grant = await fetch(`${url}/leases`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ ttlMs: 5000, id: 'cli' }) });
  assert.equal(grant.status, 201);
  const { token } = (await grant.json()) as { token: number };
  const kept = await fetch(`${url}/leases/cli/keepalive`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ token }) });
  assert.equal(kept.status, 200);
  assert.equal((await fetch(`${url}/leases/cli`)).status, 401);
  assert.equal((await fetch(`${url}/lifeline/demo`)).status, 200);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
}

test('lifeline lease serve (memory store)', async () => {
  await serve(['--demo']);
});

test('lifeline lease serve --redis', { skip: redisSkip }, async () => {
  await serve(['--demo', '--redis', (redis as { url: string }).url, '--prefix', uniquePrefix('cli')]);
});

test('lifeline lease: usage errors exit 2', async () => {
  for (const args of [[], ['frob'], ['serve', '--port', 'x']]) {
    const child = spawn(process.execPath, [cli, 'lease', ...args], { stdio: 'ignore' });
    assert.equal(await new Promise((r) => child.once('exit', r)), 2, args.join(' '));
  }
});

test('lifeline lease serve --redis http://x: exit 2 naming --redis and the accepted schemes', () => {
  const r = spawnSync(process.execPath, [cli, 'lease', 'serve', '--port', '0', '--redis', 'http://x'], { env: { ...process.env, LIFELINE_LEASE_TOKEN: TOKEN }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--redis must be redis:\/\/HOST\[:PORT\]\[\/DB\] or rediss:\/\/.*got 'http:\/\/x'/);
  assert.doesNotMatch(r.stderr, /ENOENT/);
});
