/**
 * The lease model shared by every store (memory, Redis) and by the HTTP API.
 *
 * A lease is a deadline someone keeps pushing back. It has an `id` (chosen by the caller for a
 * lock, "job:42"; generated, unguessable, for a session) and a fencing `token`: a number that
 * only grows across every grant of the store, so a resource can refuse a write from a holder
 * whose lease has since been granted to someone else (Kleppmann). A request that names a token
 * is refused unless it is the lease's current one, so a holder that lost its lease can never
 * extend or revoke its successor's.
 *
 * Invariants: a grant of a live id fails (`ERR_LEASE_HELD`); each lease ends exactly once, by
 * `revoke` or by expiry, and an expiry is reported as one `expired` event.
 */
import { randomBytes } from 'node:crypto';
import { LeaseBadTtlError, LeaseError } from './lease-errors.js';

/** JSON-compatible metadata carried by a lease. */
export type LeaseMetadata = null | boolean | number | string | LeaseMetadata[] | { [key: string]: LeaseMetadata };

/** A lease as seen by `get`, `grant` and `keepAlive`. */
export interface Lease {
  id: string;
  /** Fencing token: grows with every grant of the store; pass it to the protected resource. */
  token: number;
  ttlMs: number;
  /** Time left by the store's clock when the answer was made, in ms. */
  remainingMs: number;
  /** True when the store generated the id (an unguessable capability, as a web session's is). */
  generatedId: boolean;
  holder?: string;
  metadata?: LeaseMetadata;
}

/** What a store holds, in brief: for a dashboard, never a row per lease. */
export interface LeaseOverview {
  /** Live leases. */
  count: number;
  /** Up to the limit asked for, the soonest to expire first. */
  leases: Lease[];
}

/** What an `expired` event carries. */
export interface ExpiredLease {
  id: string;
  token: number;
  ttlMs: number;
  generatedId: boolean;
  holder?: string;
  metadata?: LeaseMetadata;
  /** How late the store noticed, in ms past the deadline (by the store's clock), when known. */
  lateMs?: number;
}

export interface GrantOptions {
  /** The lease's name, for a lock; omitted: a random unguessable id is generated. */
  id?: string;
  /** Who holds it (free text, for humans and logs). */
  holder?: string;
  metadata?: LeaseMetadata;
}

export interface LeaseStoreEvents {
  expired: [lease: ExpiredLease];
  revoked: [lease: ExpiredLease];
}

/**
 * What every store does. Methods reject with a `LeaseError` (see `LEASE_ERROR_STATUS`).
 * @example
 *   const { id, token } = await store.grant(30_000, { holder: 'worker-7' });
 *   await store.keepAlive(id, token);
 *   store.on('expired', (lease) => console.log(lease.id, 'expired'));
 *   await store.revoke(id, token);
 */
export interface LeaseStore {
  /** Grant a lease of `ttlMs` (see MIN_TTL_MS..MAX_TTL_MS). */
  grant(ttlMs: number, options?: GrantOptions): Promise<Lease>;
  /** Push the deadline `ttlMs` from now. With a token, only if it is the current one. */
  keepAlive(id: string, token?: number): Promise<Lease>;
  /** End the lease now (no `expired` event). With a token, only if it is the current one. */
  revoke(id: string, token?: number): Promise<Lease>;
  /** The live lease, or undefined. */
  get(id: string): Promise<Lease | undefined>;
  /** How many leases are live and the `limit` soonest to expire (the lease dashboard's view). */
  overview?(limit: number): Promise<LeaseOverview>;
  on<K extends keyof LeaseStoreEvents>(event: K, listener: (...args: LeaseStoreEvents[K]) => void): unknown;
  off<K extends keyof LeaseStoreEvents>(event: K, listener: (...args: LeaseStoreEvents[K]) => void): unknown;
  close(): Promise<void>;
}

/** Shortest TTL a store grants, in ms. */
export const MIN_TTL_MS = 10;
/** Longest TTL a store grants: 7 days, in ms. */
export const MAX_TTL_MS = 7 * 86_400_000;
const ID_PATTERN = /^[A-Za-z0-9._:@~-]{1,128}$/;
const MAX_METADATA_BYTES = 4096;
const MAX_HOLDER_LENGTH = 256;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'number' || typeof value === 'boolean' || value == null ? String(value) : typeof value;
}

/** Throws ERR_LEASE_BAD_TTL unless `ttlMs` is an integer in MIN_TTL_MS..MAX_TTL_MS. */
export function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new LeaseBadTtlError(`ttlMs must be an integer from ${MIN_TTL_MS} to ${MAX_TTL_MS}; got ${describe(ttlMs)}`);
  }
  return ttlMs;
}

/** Throws ERR_LEASE_BAD_ID unless `id` is 1-128 of A-Z a-z 0-9 . _ : @ ~ -. */
export function checkId(id: unknown): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new LeaseError('ERR_LEASE_BAD_ID', `a lease id is 1-128 characters of A-Z a-z 0-9 . _ : @ ~ -; got ${describe(id)}`);
  }
  return id;
}

/** Throws ERR_LEASE_BAD_TOKEN unless `token` is undefined or a positive safe integer. */
export function checkToken(token: unknown): number | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 1) {
    throw new LeaseError('ERR_LEASE_BAD_TOKEN', `a lease token is a positive integer; got ${describe(token)}`);
  }
  return token;
}

/** Validates grant options; returns them normalised (metadata as its JSON text, for storage). */
export function checkGrantOptions(options: unknown): { id: string | undefined; holder: string | undefined; metadataJson: string | undefined } {
  if (options === undefined) return { id: undefined, holder: undefined, metadataJson: undefined };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LeaseError('ERR_LEASE_BAD_REQUEST', `grant options must be an object; got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'id' && key !== 'holder' && key !== 'metadata') {
      throw new LeaseError('ERR_LEASE_BAD_REQUEST', `grant option '${key}' is not known; known options are id, holder, metadata`);
    }
  }
  const id = o.id === undefined ? undefined : checkId(o.id);
  if (o.holder !== undefined && (typeof o.holder !== 'string' || o.holder.length > MAX_HOLDER_LENGTH)) {
    throw new LeaseError('ERR_LEASE_BAD_REQUEST', `holder must be a string of at most ${MAX_HOLDER_LENGTH} characters`);
  }
  let metadataJson: string | undefined;
  if (o.metadata !== undefined) {
    try {
      metadataJson = JSON.stringify(o.metadata);
    } catch (error) {
      throw new LeaseError('ERR_LEASE_BAD_METADATA', 'metadata must be JSON-serialisable', { cause: error });
    }
    if (metadataJson === undefined || Buffer.byteLength(metadataJson) > MAX_METADATA_BYTES) {
      throw new LeaseError('ERR_LEASE_BAD_METADATA', `metadata must be a JSON value of at most ${MAX_METADATA_BYTES} bytes`);
    }
  }
  return { id, holder: o.holder, metadataJson };
}

/** A fresh unguessable lease id: 128 random bits, base64url (22 characters). */
export function generateLeaseId(): string {
  return randomBytes(16).toString('base64url');
}
