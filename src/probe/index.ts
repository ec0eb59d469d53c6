/**
 * `lifeline/probe`: measure how a server keeps connections alive (idle timeout, Keep-Alive hint,
 * request limit, slow-client bounds, TLS resumption, HTTP/2 SETTINGS and GOAWAY) and judge it
 * against the component in front. `lifeline probe URL` is the command line over `probe()`.
 */
export { probe } from './probe.js';
export type { ProbeResult } from './probe.js';
export { MEASUREMENTS, BEHIND_PRESETS, RACE_MARGIN_MS, resolveProbeOptions } from './probe-options.js';
export type { ProbeOptions, ResolvedProbeOptions, MeasurementName, BehindPreset, Behind } from './probe-options.js';
export { ProbeProgress } from './progress.js';
export type { ProgressEntry } from './progress.js';
export { ProbeResponseError, ProbeUnreachableError, ProbeUrlError } from './probe-errors.js';
export { verdicts } from './verdict.js';
export type { Verdict } from './verdict.js';
export { formatTable, formatJson, formatProgress } from './report.js';
export { sessionFields } from './tls-session-der.js';
export type { SessionFields } from './tls-session-der.js';
export type { IdleResult, IdleSample } from './idle-timeout.js';
export type { RequestLimitResult } from './request-limit.js';
export type { SlowRequestResult } from './slow-request.js';
export type { TlsResult } from './tls-measure.js';
export type { H2Result } from './h2-measure.js';
export type { TcpResult } from './tcp-measure.js';
