/**
 * Lease errors, one class per failure so each has its own stable `code`, and the HTTP API can map
 * a code to a status without reading messages. Revoking or expiring is a *reason*, not an error:
 * only a caller's request that cannot be honoured throws.
 */
import { LifelineError } from '../core/errors.js';

/** Every code a lease operation can fail with, and the HTTP status the API answers with. */
export const LEASE_ERROR_STATUS = {
  ERR_LEASE_BAD_TTL: 400,
  ERR_LEASE_BAD_ID: 400,
  ERR_LEASE_BAD_TOKEN: 400,
  ERR_LEASE_BAD_METADATA: 400,
  ERR_LEASE_BAD_REQUEST: 400,
  ERR_UNAUTHENTICATED: 401,
  ERR_LEASE_NOT_FOUND: 404,
  ERR_LEASE_TOKEN_MISMATCH: 409,
  ERR_LEASE_HELD: 409,
  ERR_LEASE_STALE_TOKEN: 409,
  ERR_LEASE_STORE_UNAVAILABLE: 503,
  ERR_CLOSED: 503,
} as const;

export type LeaseErrorCode = keyof typeof LEASE_ERROR_STATUS;

/** Base class of lease errors; `code` is one of `LeaseErrorCode`. */
export class LeaseError extends LifelineError {
  declare readonly code: LeaseErrorCode;
  /** The lease the request named, when there was one. */
  readonly leaseId: string | undefined;

  constructor(code: LeaseErrorCode, message: string, options?: { cause?: unknown; leaseId?: string }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.leaseId = options?.leaseId;
  }
}

/** A TTL outside the store's range or not an integer number of ms. */
export class LeaseBadTtlError extends LeaseError {
  constructor(message: string) {
    super('ERR_LEASE_BAD_TTL', message);
  }
}

/** No live lease has this id (never granted, revoked, or expired). */
export class LeaseNotFoundError extends LeaseError {
  constructor(id: string) {
    super('ERR_LEASE_NOT_FOUND', `lease '${id}' does not exist (never granted, revoked, or expired)`, { leaseId: id });
  }
}

/**
 * The lease exists but its current token differs. The store keeps no history of an id's past
 * tokens, so the message says only what the current token proves (it is never printed: it would
 * let the caller act on the new holder's lease): a newer one means the lease was granted again
 * since; an older one means the given token was never this lease's.
 */
export class LeaseTokenMismatchError extends LeaseError {
  constructor(id: string, given: number, current?: number) {
    let why = '';
    if (current !== undefined && current > given) why = ': it was granted again since (if that was its token, it expired or was revoked in between)';
    else if (current !== undefined && current < given) why = ': that token was never granted for this lease';
    super('ERR_LEASE_TOKEN_MISMATCH', `lease '${id}' is not held by token ${given}${why}`, { leaseId: id });
  }
}

/** A grant for a named lease that someone else holds. */
export class LeaseHeldError extends LeaseError {
  constructor(id: string) {
    super('ERR_LEASE_HELD', `lease '${id}' is held by someone else`, { leaseId: id });
  }
}

/** A fenced write carried a token older than one already seen: its holder lost the lease. */
export class StaleTokenError extends LeaseError {
  readonly token: number;
  readonly highestToken: number;

  constructor(token: number, highestToken: number, resource: string) {
    super('ERR_LEASE_STALE_TOKEN', `${resource} refused fencing token ${token}: token ${highestToken} was already used`);
    this.token = token;
    this.highestToken = highestToken;
  }
}

/** The store could not be reached (Redis down); the lease's state is unknown. */
export class LeaseStoreUnavailableError extends LeaseError {
  constructor(message: string, cause?: unknown) {
    super('ERR_LEASE_STORE_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
  }
}
