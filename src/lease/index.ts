/**
 * `lifeline/lease`: leases with fencing tokens, a memory store (timer wheel) and a Redis store,
 * a holder-side keeper that reports `lost` before the lease can have ended on the server, a fence
 * for protected resources, and an HTTP API with a page keep-alive script.
 */
export { MemoryLeaseStore } from './memory-lease-store.js';
export type { MemoryLeaseStoreOptions } from './memory-lease-store.js';
export { RedisLeaseStore } from './redis-lease-store.js';
export type { RedisClient, RedisLeaseStoreOptions } from './redis-lease-store.js';
export { LeaseKeeper } from './lease-keeper.js';
export type { LeaseKeeperOptions, LeaseKeeperEvents, LeaseLostReason, AcquireOptions } from './lease-keeper.js';
export { Fence } from './fence.js';
export { MIN_TTL_MS, MAX_TTL_MS, checkTtl, checkId, generateLeaseId } from './lease-store.js';
export type { Lease, ExpiredLease, GrantOptions, LeaseMetadata, LeaseOverview, LeaseStore, LeaseStoreEvents } from './lease-store.js';
export {
  LeaseError,
  LeaseBadTtlError,
  LeaseNotFoundError,
  LeaseTokenMismatchError,
  LeaseHeldError,
  StaleTokenError,
  LeaseStoreUnavailableError,
  LEASE_ERROR_STATUS,
} from './lease-errors.js';
export type { LeaseErrorCode } from './lease-errors.js';
export { createLeaseHttpHandler } from './lease-http-handler.js';
export type { LeaseHttpOptions, LeaseHttpHandler } from './lease-http-handler.js';
export { serveLeases } from './lease-http-server.js';
export type { LeaseServer, LeaseServerOptions } from './lease-http-server.js';
export { PAGE_KEEPALIVE_SCRIPT } from './page-keepalive-script.js';
