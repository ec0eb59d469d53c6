export { JsonLines } from './json-lines.js';
export type { JsonLinesTarget } from './json-lines.js';
export { EventLog, LOG_LEVELS, errnoOf } from './event-log.js';
export type { EventLogOptions, HealthDetail, LogLevel } from './event-log.js';
