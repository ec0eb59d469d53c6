/**
 * `lifeline/core`: deadlines, timer wheel, heartbeats, backoff, errors and option checks.
 * No I/O and nothing about HTTP: every higher layer is built from these.
 */
export { SystemClock, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { FakeClock } from './fake-clock.js';
export { TimerWheel, MAX_DEADLINES, MAX_WHEEL_TIMEOUT_MS } from './timer-wheel.js';
export type { TimerWheelOptions, ExpireCallback } from './timer-wheel.js';
export { IdleTimer } from './idle-timer.js';
export type { IdleTimerOptions } from './idle-timer.js';
export { Heartbeat } from './heartbeat.js';
export type { HeartbeatOptions, HeartbeatState, HeartbeatEvents } from './heartbeat.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { LifelineError, InvalidOptionError, ClosedError } from './errors.js';
export * as options from './options.js';
export { CLOSE_LAYERS, CLOSE_REASONS, CLOSE_REASON_NAMES, closeInfo, closeInfoFromError, closeSide, reasonFromError } from './close-reason.js';
export type { CloseInfo, CloseLayer, CloseReason, CloseSide } from './close-reason.js';
export { StateTable, StateList, IllegalTransitionError } from './state-table.js';
export type { StateItem } from './state-table.js';
