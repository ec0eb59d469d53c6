/**
 * Process and runtime metrics on a proxy's own registry: prom-client's default set (CPU, memory,
 * file descriptors, event-loop lag, GC, heap spaces; standard `process_*` and `nodejs_*` names,
 * unprefixed, so stock Node dashboards work), plus `lifeline_build_info{version}` and
 * `lifeline_uptime_seconds`.
 *
 * prom-client gives no handle to stop what `collectDefaultMetrics` starts (an event-loop delay
 * histogram and a GC PerformanceObserver); neither keeps the process alive, and a proxy process
 * registers them once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

let version: string | undefined;

/** lifeline's version, from the nearest package.json named `lifeline-keepalive` (the package) above this module. */
export function packageVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && version === undefined; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'lifeline-keepalive' && typeof pkg.version === 'string') version = pkg.version;
    }
    dir = dirname(dir);
  }
  version ??= 'unknown';
  return version;
}

export function registerRuntimeMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({ name: `${prefix}build_info`, help: 'Always 1; the version label says which lifeline runs.', labelNames: ['version'], registers: [registry] });
  info.set({ version: packageVersion() }, 1);
  const uptime: Gauge = new Gauge({
    name: `${prefix}uptime_seconds`,
    help: 'Seconds since the process started.',
    registers: [registry],
    collect() {
      uptime.set(process.uptime());
    },
  });
}
