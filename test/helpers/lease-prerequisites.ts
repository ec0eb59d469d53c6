/**
 * Skipping for missing tools (Redis, Chromium, dbus-daemon), except in CI: with
 * LIFELINE_CI=1 (set by .ci/run) a missing prerequisite is a failing test, so CI can never pass
 * by skipping the tests that matter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

/** The value for a test's `skip` option: the reason (printed), or false. In CI, false plus a failure. */
export function skipFor(area: string, reason: string | undefined): string | false {
  if (reason === undefined) return false;
  if (process.env.LIFELINE_CI === '1') {
    test(`${area}: prerequisites are present (LIFELINE_CI=1)`, () => assert.fail(`${area}: ${reason}`));
    return `${area}: ${reason} (counted as a failure: LIFELINE_CI=1)`;
  }
  console.log(`# ${area}: skipped: ${reason}`);
  return reason;
}
