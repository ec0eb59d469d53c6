/**
 * The admin listener: `/healthz` (liveness), `/readyz` (readiness), `/stats` (JSON), `/metrics`
 * (Prometheus text), and the live dashboard (`/`, its assets, `/events` Server-Sent Events,
 * `/api/dashboard` JSON). Plain `http.Server`: its traffic is a scrape every few seconds and a
 * page or two, so clarity wins over the data path's raw parser here.
 *
 * With `token` set, everything but `/healthz` and `/readyz` (left open for orchestrator probes,
 * which carry no secret and reveal only up/down) needs the token: see admin-auth.ts.
 */
import type http from 'node:http';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressConfig } from '../config/index.js';
import { AdminAuth, checkAdminExposure, LOGIN_PAGE } from './admin-auth.js';
import { loadDashboard } from './dashboard-assets.js';
import type { DashboardFeed } from './dashboard-feed.js';
import { clustersParam } from './readiness.js';
import type { Readiness } from './readiness.js';

export interface AdminSource {
  draining(): boolean;
  stats(): unknown;
  metricsText(): Promise<string>;
  metricsContentType: string;
  /** Readiness for `/readyz`; `only` lists the clusters named by `?cluster=`. Without it,
   * readiness is "not draining". */
  ready?: (only: string[] | undefined) => Readiness;
  /** The dashboard's data; without it `/` and `/events` answer 404. */
  feed?: DashboardFeed;
  /** See AdminConfig.token. */
  token?: string | null;
  /** Extra handlers (the lease API mounts here); return true when the request was handled. */
  extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

/** JSON with non-finite numbers spelled as Prometheus does (`+Inf`), instead of JSON's `null`. */
export function adminJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf') : v), 2)}\n`;
}

const MAX_LOGIN_BYTES = 4096;

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(adminJson(value));
}

function login(req: http.IncomingMessage, res: http.ServerResponse, auth: AdminAuth): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_LOGIN_BYTES) req.destroy();
  });
  req.on('end', () => {
    const token = new URLSearchParams(body).get('token') ?? '';
    const cookie = auth.login(token);
    if (cookie === undefined) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end(LOGIN_PAGE.replace('<form', '<p role="alert">Wrong token.</p><form'));
      return;
    }
    res.writeHead(303, { location: '/', 'set-cookie': cookie }).end();
  });
}

export async function startAdmin(address: AddressConfig, source: AdminSource): Promise<http.Server> {
  checkAdminExposure(address, source.token ?? null);
  const auth = new AdminAuth(source.token ?? null);
  const assets = source.feed === undefined ? undefined : loadDashboard();
  const server = createServer((req, res) => {
    if (source.extra?.(req, res) === true) return;
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (path === '/login' && req.method === 'POST' && auth.required) return login(req, res, auth);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      // Liveness: this process answers. Draining is not a reason to be restarted.
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const r: Readiness = source.ready?.(clustersParam(url)) ?? {
        ready: !source.draining(),
        failed: [],
        checks: [{ check: 'not_draining', ok: !source.draining(), subject: 'proxy', detail: source.draining() ? 'draining' : 'serving' }],
      };
      if (!r.ready && r.failed.length === 0) r.failed = r.checks.filter((c) => !c.ok);
      json(res, r.ready ? 200 : 503, r);
      return;
    }
    if (!auth.allows(req)) {
      if (path === '/' && assets !== undefined) res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end(LOGIN_PAGE);
      else res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="lifeline admin"' }).end('admin token required: Authorization: Bearer TOKEN (admin.token)\n');
      return;
    }
    const asset = assets?.get(path);
    if (asset !== undefined) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'content-security-policy': "default-src 'self'; img-src 'self' data:" }).end(asset.body);
    } else if (path === '/events' && source.feed !== undefined) {
      source.feed.attach(req, res);
    } else if (path === '/api/dashboard' && source.feed !== undefined) {
      json(res, 200, source.feed.current());
    } else if (path === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(adminJson(source.stats()));
    } else if (path === '/metrics') {
      source.metricsText().then(
        (text) => res.writeHead(200, { 'content-type': source.metricsContentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /healthz, /readyz, /stats or /metrics\n');
    }
  });
  server.keepAliveTimeout = 65_000;
  server.listen(address.port, address.host);
  await once(server, 'listening');
  return server;
}
