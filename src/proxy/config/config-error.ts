/** Moved to src/core/config (shared by the proxy and the tunnel); re-exported for existing imports. */
export * from '../../core/config/config-error.js';
