/**
 * `lifeline/awake`: keep the machine (and optionally its display) awake while something runs.
 * Linux logind (through systemd-inhibit) and the freedesktop ScreenSaver, macOS caffeinate,
 * Windows SetThreadExecutionState.
 */
export { keepAwake, AwakeHandle } from './keep-awake.js';
export type { KeepAwakeOptions, AwakeHandleEvents } from './keep-awake.js';
export { runAwake, holdAwake, pidAlive } from './run-awake.js';
export type { RunAwakeOptions, HoldAwakeOptions } from './run-awake.js';
export { AwakeUnavailableError } from './awake-errors.js';
export type { AwakeAttempt } from './awake-errors.js';
export { systemdInhibitCommand } from './linux-inhibitors.js';
export { awakeCapabilities } from './capabilities.js';
export type { AwakeCapability } from './capabilities.js';
export { caffeinateCommand } from './macos-inhibitor.js';
export { powershellCommand, executionStateScript, executionStateFlags } from './windows-inhibitor.js';
