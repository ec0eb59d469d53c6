/**
 * The probe's errors. An unreachable URL is not a bug: its message is the one line the CLI
 * prints (DNS, refused, TLS verification with the certificate's names), never a stack.
 */
import { LifelineError } from '../core/errors.js';

/** The URL could not be reached, or the server's certificate was refused. */
export class ProbeUnreachableError extends LifelineError {
  constructor(message: string, cause?: unknown) {
    super('ERR_PROBE_UNREACHABLE', message, { cause });
  }
}

/** What the server sent (or did) made a measurement impossible: bad wire data, a close before a
 * whole response, no HTTP/2 SETTINGS. Listed in the result's `errors`; other measurements go on. */
export class ProbeResponseError extends LifelineError {
  constructor(code: 'ERR_PROBE_BAD_RESPONSE' | 'ERR_PROBE_CLOSED_EARLY' | 'ERR_PROBE_NO_SETTINGS', message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

/** The URL itself is not one the probe can use (scheme, host). */
export class ProbeUrlError extends LifelineError {
  constructor(message: string) {
    super('ERR_PROBE_URL', message);
  }
}
