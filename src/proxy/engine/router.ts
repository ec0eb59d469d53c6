/**
 * Routes: the first route whose host and path prefix match wins (as the config lists them).
 * Host matching ignores case and the port; `*.example.com` matches any depth of subdomain but
 * not `example.com` itself. Built once per config; `match` allocates nothing.
 */
import type { RouteConfig } from '../config/index.js';

export interface Route<C> {
  host: string | null;
  pathPrefix: string;
  cluster: C;
}

/** Lowercase host without the port (`Example.COM:8080` -> `example.com`, `[::1]:80` -> `[::1]`). */
export function hostWithoutPort(host: string): string {
  let end = host.length;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    end = close === -1 ? host.length : close + 1;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  return host.slice(0, end).toLowerCase();
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.length > pattern.length - 1 && host.endsWith(pattern.slice(1));
  return host === pattern;
}

/**
 * @example
 *   const router = new Router(listener.routes, (name) => clusters.get(name));
 *   const cluster = router.match(head.host ?? '', head.target);
 */
export class Router<C> {
  readonly routes: readonly Route<C>[];

  constructor(routes: readonly RouteConfig[], resolve: (cluster: string) => C) {
    this.routes = routes.map((r) => ({ host: r.host, pathPrefix: r.pathPrefix, cluster: resolve(r.cluster) }));
  }

  match(hostHeader: string, target: string): C | undefined {
    let host: string | undefined;
    for (const route of this.routes) {
      if (route.host !== null) {
        host ??= hostWithoutPort(hostHeader);
        if (!hostMatches(route.host, host)) continue;
      }
      if (target.startsWith(route.pathPrefix)) return route.cluster;
    }
    return undefined;
  }
}
