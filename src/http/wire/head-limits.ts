/**
 * Size limits of a message head, checked once when a listener or pool is configured so that the
 * parsers can trust them on every call.
 */
import { integerOption, rejectUnknown } from '../../core/options.js';

/** Size limits of a head. */
export interface HeadLimits {
  /** Largest head in bytes, from the first byte through the final CRLF. Larger: 431. */
  readonly maxHeaderBytes: number;
  /** Most field lines. More: 431. */
  readonly maxHeaders: number;
}

/** nginx's large_client_header_buffers is 4 x 8 KiB; Node's default is 16 KiB. */
export const DEFAULT_HEAD_LIMITS: HeadLimits = Object.freeze({ maxHeaderBytes: 16_384, maxHeaders: 100 });

/**
 * Validate limits given by a caller, filling defaults (16384 bytes, 100 fields).
 *
 * @example const limits = headLimits({ maxHeaderBytes: 8192 }); // { maxHeaderBytes: 8192, maxHeaders: 100 }
 */
export function headLimits(options?: { maxHeaderBytes?: number; maxHeaders?: number }): HeadLimits {
  const bag = rejectUnknown('HeadLimits', options, ['maxHeaderBytes', 'maxHeaders']);
  return Object.freeze({
    maxHeaderBytes: integerOption('HeadLimits', bag, 'maxHeaderBytes', DEFAULT_HEAD_LIMITS.maxHeaderBytes, { min: 64, max: 1_048_576 }),
    maxHeaders: integerOption('HeadLimits', bag, 'maxHeaders', DEFAULT_HEAD_LIMITS.maxHeaders, { min: 1, max: 10_000 }),
  });
}
