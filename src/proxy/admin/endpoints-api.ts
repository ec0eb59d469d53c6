/**
 * The runtime endpoints API of the admin listener, as a plain Node request handler (mount it as
 * the admin server's `extra`):
 *
 *   GET    /clusters/<name>/endpoints                       200 { cluster, source, endpoints, ... }
 *   POST   /clusters/<name>/endpoints  {address, weight?}   201 added | 200 weight set
 *   DELETE /clusters/<name>/endpoints/<address>             200 drained and removed
 *          (or DELETE /clusters/<name>/endpoints?address=<address>)
 *
 * Every call needs `Authorization: Bearer <token>` (compared in constant time): even a listing
 * tells an attacker where the backends are. Changes go through `ClusterMembership`, so they
 * are counted, logged and shown by `/stats` like any other change. Errors are JSON,
 * `{"error": {"code": "ERR_...", "message": "..."}}`, the code being the contract.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError, LifelineError } from '../../core/errors.js';
import { integerOption, rejectUnknown } from '../../core/options.js';
import { JsonBodyError, readJsonObject } from '../../http/server/read-json.js';
import { MembershipError } from '../discovery/cluster-membership.js';
import type { ClusterMembership } from '../discovery/cluster-membership.js';

export interface EndpointsApiOptions {
  /** The secret callers send as `Authorization: Bearer <token>` (at least 16 characters). */
  bearerToken: string;
  /** The clusters by name, read on every call (a reload may replace them). */
  clusters: () => ReadonlyMap<string, ClusterMembership>;
  /** Largest request body in bytes. Default 16384. */
  maxBodyBytes?: number;
}

class HttpError extends LifelineError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const ROUTE = /^\/clusters\/([^/]+)\/endpoints(?:\/([^/]+))?$/;

/**
 * @example
 *   const api = createEndpointsApi({ bearerToken: process.env.ADMIN_TOKEN!, clusters: () => memberships });
 *   startAdmin(address, { ...source, extra: api });
 */
export function createEndpointsApi(options: EndpointsApiOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const o = rejectUnknown('EndpointsApi', options, ['bearerToken', 'clusters', 'maxBodyBytes']);
  if (typeof o['bearerToken'] !== 'string' || o['bearerToken'].length < 16) {
    throw new InvalidOptionError('EndpointsApi.bearerToken', 'EndpointsApi.bearerToken must be a string of at least 16 characters');
  }
  if (typeof o['clusters'] !== 'function') throw new InvalidOptionError('EndpointsApi.clusters', 'EndpointsApi.clusters must be a function returning a Map of cluster memberships');
  const expected = digest(options.bearerToken);
  const maxBody = integerOption('EndpointsApi', o, 'maxBodyBytes', 16_384, { min: 64, max: 1 << 20 });

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = `${JSON.stringify(body)}\n`;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)) };
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="lifeline admin"';
    res.writeHead(status, headers).end(text);
  };

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    try {
      return await readJsonObject(req, maxBody);
    } catch (error) {
      if (!(error instanceof JsonBodyError)) throw error;
      const message = error.code === 'ERR_JSON_BODY_TOO_LARGE' ? error.message : 'the body must be a JSON object such as {"address": "10.0.0.5:8080", "weight": 2}';
      throw new HttpError(error.httpStatus, 'ERR_BAD_REQUEST', message);
    }
  };

  async function route(req: IncomingMessage, res: ServerResponse, name: string, address: string | undefined, url: URL): Promise<void> {
    const header = req.headers.authorization;
    if (header === undefined || !/^Bearer /i.test(header) || !timingSafeEqual(digest(header.slice(7).trim()), expected)) {
      throw new HttpError(401, 'ERR_UNAUTHENTICATED', 'send Authorization: Bearer <admin token>');
    }
    const clusters = options.clusters();
    const membership = clusters.get(name);
    if (membership === undefined) throw new HttpError(404, 'ERR_NOT_FOUND', `no cluster named "${name}" (clusters: ${[...clusters.keys()].join(', ')})`);
    const method = req.method ?? 'GET';
    if (address === undefined && (method === 'GET' || method === 'HEAD')) {
      send(res, 200, membership.snapshot());
      return;
    }
    if (address === undefined && method === 'POST') {
      const body = await readJson(req);
      const unknown = Object.keys(body).filter((k) => k !== 'address' && k !== 'weight');
      if (unknown.length > 0) throw new HttpError(400, 'ERR_BAD_REQUEST', `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; the body takes "address" and "weight"`);
      const added = membership.upsert(body['address'], body['weight']);
      send(res, added ? 201 : 200, membership.snapshot());
      return;
    }
    if (method === 'DELETE') {
      const target = address ?? url.searchParams.get('address') ?? undefined;
      if (target === undefined) throw new HttpError(400, 'ERR_BAD_REQUEST', 'name the endpoint: DELETE /clusters/<name>/endpoints/<host:port>');
      membership.remove(target);
      send(res, 200, membership.snapshot());
      return;
    }
    const allowed = address === undefined ? 'GET, POST, DELETE' : 'DELETE';
    res.setHeader('allow', allowed);
    throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${allowed}`);
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = ROUTE.exec(url.pathname);
    if (m === null) return false;
    let name: string;
    let address: string | undefined;
    try {
      name = decodeURIComponent(m[1] as string);
      address = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    } catch {
      send(res, 400, { error: { code: 'ERR_BAD_REQUEST', message: `bad percent-encoding in ${url.pathname}` } });
      return true;
    }
    route(req, res, name, address, url).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
      } else if (error instanceof HttpError || error instanceof MembershipError) {
        send(res, error.status, { error: { code: error.code, message: error.message } });
      } else {
        send(res, 500, { error: { code: 'ERR_INTERNAL', message: 'internal error' } });
      }
    });
    return true;
  };
}
