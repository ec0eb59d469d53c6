/**
 * Prerequisites of the system tests (the native addon, `ss`, network namespaces), with the rule of
 * lease-prerequisites.ts: outside CI a missing one skips, with the reason printed; with
 * LIFELINE_CI=1 it is a failing test, so a broken addon build or a missing tool can never leave
 * CI green.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { loadNativeTcp } from '../../src/transport/native.js';

export { skipFor } from './lease-prerequisites.js';

/** Inside a running test: skip it for `reason`, or, under LIFELINE_CI=1, fail it. */
export function skipOrFail(t: TestContext, area: string, reason: string): void {
  if (process.env.LIFELINE_CI === '1') assert.fail(`${area}: ${reason} (a missing prerequisite fails under LIFELINE_CI=1)`);
  t.diagnostic(`skipped: ${reason}`);
  t.skip(reason);
}

/** Why the native addon cannot be used, or undefined when it loaded. */
export function nativeAddonMissing(): string | undefined {
  return loadNativeTcp() === undefined ? 'native addon not built or not loadable (run `node scripts/build-native.mjs`; see build/native-build.log)' : undefined;
}

/** Why `ss` (iproute2) cannot be run, or undefined. */
export function ssMissing(): string | undefined {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore', timeout: 5000 });
    return undefined;
  } catch {
    return 'the `ss` tool (iproute2) is not installed';
  }
}
