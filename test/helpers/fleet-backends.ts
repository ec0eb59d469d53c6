/**
 * Backends and proxy settings for the fleet tests: four raw backends on 127.0.0.2-5 (all on lo
 * under Linux), all on one port since A records carry no port; `/slow` answered after 400 ms.
 */
import { startRawBackend } from './proxy-backends.js';
import type { RawBackend } from './proxy-backends.js';

export const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
export const TOKEN = 'fleet-test-token-0123456789';

/** `/slow` requests received, by backend name (since the last `startBackends`). */
export const slowArrived = new Map<string, number>();

/** Four backends, one per loopback address, all on one port (A records carry no port). */
export async function startBackends(): Promise<RawBackend[]> {
  // `/slow` stays in flight long enough to be caught by a removal.
  const delay = (req: { path: string }): number => (req.path === '/slow' ? 400 : 2 + Math.floor(Math.random() * 15));
  const count = (name: string) => (req: { path: string }): void => {
    if (req.path === '/slow') slowArrived.set(name, (slowArrived.get(name) ?? 0) + 1);
  };
  const first = await startRawBackend({ name: HOSTS[0] as string, host: HOSTS[0] as string, responseDelayMs: delay, onRequest: count(HOSTS[0] as string) });
  const rest = await Promise.all(HOSTS.slice(1).map((host) => startRawBackend({ name: host, host, port: first.port, responseDelayMs: delay, onRequest: count(host) })));
  slowArrived.clear();
  return [first, ...rest];
}

/** A proxy with one listener, cluster `api` (its keys given), an admin with TOKEN, the event log in `eventsFile`. */
export function proxyYaml(cluster: string, eventsFile: string): string {
  return `listeners: [{ name: main, address: "127.0.0.1:0", routes: [{ cluster: api }] }]
clusters:
  api:
${cluster}
admin: { address: "127.0.0.1:0", token: "${TOKEN}" }
accessLog: { target: "off" }
eventLog: { target: "${eventsFile}" }
`;
}

