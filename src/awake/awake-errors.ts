/**
 * Errors of `keepAwake`. When no mechanism can hold the machine awake the error lists every
 * mechanism tried and why each failed, because "could not inhibit sleep" alone leaves a user in a
 * container or on a headless box with nothing to act on.
 */
import { LifelineError } from '../core/errors.js';

/** One mechanism tried and why it did not work. */
export interface AwakeAttempt {
  mechanism: string;
  reason: string;
}

/** No sleep inhibitor could be taken (code ERR_AWAKE_UNAVAILABLE). */
export class AwakeUnavailableError extends LifelineError {
  readonly attempts: readonly AwakeAttempt[];

  constructor(platform: string, attempts: readonly AwakeAttempt[]) {
    const tried = attempts.map((a) => `  - ${a.mechanism}: ${a.reason}`).join('\n');
    super('ERR_AWAKE_UNAVAILABLE', `no sleep inhibitor is available on ${platform}; tried:\n${tried}`);
    this.attempts = attempts;
  }
}
