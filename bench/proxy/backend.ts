/** bench/proxy's backend: its own nginx (1 worker) on the load core, and its stub_status counters. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LARGE_BODY_BYTES, LARGE_PATH, SMALL_BODY, backendNginx } from './configs.js';
import { freePort, get, launch, waitReady } from './processes.js';
import { CORE_LOAD } from './settings.js';

export interface Backend {
  port: number;
  statusPort: number;
  child: ChildProcess;
}

export async function startBackend(dir: string): Promise<Backend> {
  const port = await freePort();
  const statusPort = await freePort();
  mkdirSync(join(dir, 'www'), { recursive: true });
  writeFileSync(join(dir, 'www', '64k.bin'), Buffer.alloc(LARGE_BODY_BYTES, 'y'));
  const conf = join(dir, 'backend.conf');
  writeFileSync(conf, backendNginx(dir, port, statusPort));
  const log = join(dir, 'backend.out');
  const child = launch(CORE_LOAD, 'nginx', ['-p', dir, '-c', conf], log);
  await waitReady(port, child, join(dir, 'backend-error.log'), SMALL_BODY);
  const big = await get(port, LARGE_PATH);
  if (big?.body.length !== LARGE_BODY_BYTES) throw new Error('backend: /64k is not 64 KiB');
  return { port, statusPort, child };
}

/** The backend's stub_status counters; each read is itself one accepted connection and request. */
export async function stubStatus(b: Backend): Promise<{ accepts: number; requests: number }> {
  const r = await get(b.statusPort, '/');
  const m = /accepts handled requests\s+(\d+)\s+\d+\s+(\d+)/.exec(r?.body ?? '');
  if (!m) throw new Error(`backend stub_status unreadable: ${r?.body ?? 'no answer'}`);
  return { accepts: Number(m[1]), requests: Number(m[2]) };
}
