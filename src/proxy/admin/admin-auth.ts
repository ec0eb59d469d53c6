/**
 * Who may read the admin listener. With no token (allowed only on loopback, see
 * `checkAdminExposure`) everyone on this host may. With a token, a request must carry it as
 * `Authorization: Bearer TOKEN` (curl, Prometheus' `authorization` block) or the session cookie a
 * browser gets from the login form (`POST /login`).
 *
 * Why a cookie rather than `?token=` for the dashboard's EventSource (which cannot set headers):
 * a token in a URL lands in browser history, Referer headers and any log in between; an
 * HttpOnly, SameSite=Strict cookie is sent by the browser to this origin only and readable by no
 * script. The cookie holds a SHA-256 of the token, not the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { LifelineError } from '../../core/errors.js';
import { isLoopbackHost } from '../config/address.js';
import type { AddressConfig } from '../config/index.js';

export const SESSION_COOKIE = 'lifeline_admin';

/** Refuse to expose an unauthenticated admin listener beyond this host. */
export function checkAdminExposure(address: AddressConfig, token: string | null): void {
  if ((token === null || token === '') && !isLoopbackHost(address.host)) {
    throw new LifelineError(
      'ERR_ADMIN_UNPROTECTED',
      `admin.address ${address.address} is not a loopback address and admin.token is not set: set admin.token (at least 16 characters) or bind the admin listener to 127.0.0.1`,
    );
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class AdminAuth {
  readonly #tokenDigest: Buffer | undefined;

  constructor(token: string | null) {
    this.#tokenDigest = token === null || token === '' ? undefined : digest(token);
  }

  get required(): boolean {
    return this.#tokenDigest !== undefined;
  }

  /** Whether the request carries the token (header) or a session cookie. */
  allows(req: http.IncomingMessage): boolean {
    const expected = this.#tokenDigest;
    if (expected === undefined) return true;
    const header = req.headers.authorization;
    if (header !== undefined && header.startsWith('Bearer ') && timingSafeEqual(digest(header.slice(7).trim()), expected)) return true;
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined && /^[0-9a-f]{64}$/.test(cookie) && timingSafeEqual(Buffer.from(cookie, 'hex'), expected)) return true;
    return false;
  }

  /** The Set-Cookie value for a correct token, or undefined. */
  login(token: string): string | undefined {
    const expected = this.#tokenDigest;
    if (expected === undefined) return undefined;
    const given = digest(token);
    if (!timingSafeEqual(given, expected)) return undefined;
    return `${SESSION_COOKIE}=${given.toString('hex')}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lifeline admin: sign in</title>
<style>body{font:15px system-ui,sans-serif;margin:4em auto;max-width:24em}input,button{font:inherit;padding:.4em;margin:.3em 0;width:100%;box-sizing:border-box}</style>
</head><body><h1>lifeline admin</h1><p>This admin listener needs its token (<code>admin.token</code>).</p>
<form method="post" action="/login"><label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label><button>Sign in</button></form>
</body></html>
`;
