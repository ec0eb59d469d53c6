/**
 * What `probe()` accepts, checked once: the URL, the bounds of each measurement, the component
 * in front (`behind`) and which measurements to run.
 *
 * Why one place: the CLI and library callers get the same messages ("`probe.maxWaitMs` must be
 * ..."), and every measurement reads its bounds from the same resolved object.
 */
import { InvalidOptionError } from '../core/errors.js';
import { booleanOption, integerOption, rejectUnknown } from '../core/options.js';
import type { ProbeProgress } from './progress.js';

/** The measurements, in the order they are reported. */
export const MEASUREMENTS = ['tcp', 'idle', 'requests', 'header', 'body', 'tls', 'h2'] as const;
export type MeasurementName = (typeof MEASUREMENTS)[number];

/**
 * Idle timeouts of the usual components in front of a server, as their vendors document them
 * (defaults; each can be changed). `nginx` is an upstream `keepalive_timeout` (60 s).
 */
export const BEHIND_PRESETS = {
  'aws-alb': { idleTimeoutMs: 60_000, what: 'AWS Application Load Balancer (idle timeout attribute, default 60 s)' },
  'aws-nlb': { idleTimeoutMs: 350_000, what: 'AWS Network Load Balancer (TCP idle timeout, 350 s)' },
  'gcp-lb': { idleTimeoutMs: 600_000, what: 'Google Cloud HTTP(S) load balancer (keepalive timeout, 600 s)' },
  'azure-lb': { idleTimeoutMs: 240_000, what: 'Azure Load Balancer (idle timeout, default 4 min)' },
  nginx: { idleTimeoutMs: 60_000, what: 'nginx upstream keepalive (keepalive_timeout in the upstream block, default 60 s)' },
} as const;
export type BehindPreset = keyof typeof BEHIND_PRESETS;

/** The component in front of the server, resolved. */
export interface Behind {
  /** A preset's name, or `custom`. */
  name: BehindPreset | 'custom';
  /** How long it keeps an idle connection to the server. */
  idleTimeoutMs: number;
  what: string;
}

export interface ProbeOptions {
  /** How long any one measurement may wait for the server (idle close, slow request). Default 10 min. */
  maxWaitMs?: number;
  /** The component in front: a preset name or its idle timeout in ms. */
  behind?: BehindPreset | number;
  /** Run only these measurements (default: all that apply to the URL). */
  only?: readonly MeasurementName[];
  /** Connections measured in parallel for the idle timeout (default 3, so one stray close is not taken for the rule). */
  idleConnections?: number;
  /** Most requests sent on one connection to find its request limit (default 10,000). */
  maxRequests?: number;
  /** Bound of each connect and TLS handshake (default 10 s). */
  connectTimeoutMs?: number;
  /** Time between two bytes of a slow request head or body (default: max(100, maxWaitMs / 6000)). */
  slowByteIntervalMs?: number;
  /** Extra CA certificates (PEM) to trust, for a server with a private CA. */
  ca?: string | Buffer;
  /** Do not verify the server's certificate (`curl -k`). Default false. */
  insecure?: boolean;
  /** Told what each measurement waits for; the CLI draws it as progress lines. */
  progress?: ProbeProgress;
}

export interface ResolvedProbeOptions {
  maxWaitMs: number;
  behind: Behind | undefined;
  only: ReadonlySet<MeasurementName>;
  idleConnections: number;
  maxRequests: number;
  connectTimeoutMs: number;
  slowByteIntervalMs: number;
  ca: string | Buffer | undefined;
  insecure: boolean;
  progress: ProbeProgress | undefined;
}

const KEYS = ['maxWaitMs', 'behind', 'only', 'idleConnections', 'maxRequests', 'connectTimeoutMs', 'slowByteIntervalMs', 'ca', 'insecure', 'progress'];

/** Margin used by every verdict: a close this close to another is a race (network delay, timer slack). */
export const RACE_MARGIN_MS = 1_000;

function resolveBehind(value: unknown): Behind | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (Object.hasOwn(BEHIND_PRESETS, value)) {
      const preset = BEHIND_PRESETS[value as BehindPreset];
      return { name: value as BehindPreset, idleTimeoutMs: preset.idleTimeoutMs, what: preset.what };
    }
    throw new InvalidOptionError('probe.behind', `probe.behind must be one of ${Object.keys(BEHIND_PRESETS).join(', ')} or an idle timeout in ms; got "${value}"`);
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) {
    return { name: 'custom', idleTimeoutMs: value, what: `a component in front with a ${value} ms idle timeout` };
  }
  throw new InvalidOptionError('probe.behind', `probe.behind must be a preset name or an integer idle timeout in ms (1 or more); got ${typeof value === 'number' ? value : typeof value}`);
}

function resolveOnly(value: unknown): ReadonlySet<MeasurementName> {
  if (value === undefined) return new Set(MEASUREMENTS);
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionError('probe.only', `probe.only must be a non-empty array of ${MEASUREMENTS.join(', ')}`);
  }
  const out = new Set<MeasurementName>();
  for (const name of value as unknown[]) {
    if (typeof name !== 'string' || !(MEASUREMENTS as readonly string[]).includes(name)) {
      throw new InvalidOptionError('probe.only', `probe.only: unknown measurement ${JSON.stringify(name)}; known: ${MEASUREMENTS.join(', ')}`);
    }
    out.add(name as MeasurementName);
  }
  return out;
}

/** Check and default `options`; throws InvalidOptionError naming the bad option. */
export function resolveProbeOptions(options: ProbeOptions | undefined): ResolvedProbeOptions {
  const bag = rejectUnknown('probe', options, KEYS);
  const maxWaitMs = integerOption('probe', bag, 'maxWaitMs', 600_000, { min: 100, max: 86_400_000 });
  const ca = bag.ca;
  if (ca !== undefined && typeof ca !== 'string' && !Buffer.isBuffer(ca)) {
    throw new InvalidOptionError('probe.ca', 'probe.ca must be PEM text (a string or a Buffer)');
  }
  const progress = bag.progress;
  if (progress !== undefined && (typeof progress !== 'object' || progress === null || typeof (progress as { set?: unknown }).set !== 'function')) {
    throw new InvalidOptionError('probe.progress', 'probe.progress must be a ProbeProgress');
  }
  return {
    maxWaitMs,
    behind: resolveBehind(bag.behind),
    only: resolveOnly(bag.only),
    idleConnections: integerOption('probe', bag, 'idleConnections', 3, { min: 1, max: 20 }),
    maxRequests: integerOption('probe', bag, 'maxRequests', 10_000, { min: 1, max: 1_000_000 }),
    connectTimeoutMs: integerOption('probe', bag, 'connectTimeoutMs', 10_000, { min: 1, max: 600_000 }),
    slowByteIntervalMs: integerOption('probe', bag, 'slowByteIntervalMs', Math.max(100, Math.ceil(maxWaitMs / 6_000)), { min: 1, max: 600_000 }),
    ca,
    insecure: booleanOption('probe', bag, 'insecure', false),
    progress: progress as ProbeProgress | undefined,
  };
}
