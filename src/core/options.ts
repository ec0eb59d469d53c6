/**
 * Option checks shared by every constructor.
 *
 * Why hand-written rather than zod: these run on every `new` of hot objects (deadlines, agents)
 * and must produce one exact message shape, "`<where>.<option>` must be <range>; got <value>".
 * Config *files* (the proxy) use a schema library; options objects use this.
 *
 * Invariants: unknown keys are an error (a typo like `idleTimeout` must not be silently ignored);
 * `undefined` means "use the default"; every duration is an integer number of milliseconds.
 */
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { InvalidOptionError } from './errors.js';

/** A plain options object as received from a caller. */
export type OptionBag = Readonly<Record<string, unknown>>;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function path(where: string, name: string): string {
  return where === '' ? name : `${where}.${name}`;
}

/**
 * Throw if `options` is not an object or has a key outside `allowed`.
 * @example rejectUnknown('TimerWheel', opts, ['resolutionMs', 'slots', 'clock'])
 */
export function rejectUnknown(where: string, options: unknown, allowed: readonly string[]): OptionBag {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(where, `${where} options must be an object; got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(
        path(where, key),
        `${path(where, key)} is not a known option; known options are ${allowed.join(', ')}`,
      );
    }
  }
  return options as OptionBag;
}

export interface IntegerRange {
  min: number;
  max?: number;
  /** Text appended to the range, e.g. "(0 disables)". */
  note?: string;
}

/**
 * An integer option in [min, max]; `fallback` when undefined.
 * @example const ms = integerOption('Heartbeat', opts, 'intervalMs', 25_000, { min: 1 })
 */
export function integerOption(where: string, options: OptionBag, name: string, fallback: number, range: IntegerRange): number {
  const value = options[name];
  if (value === undefined) return fallback;
  return checkInteger(path(where, name), value, range);
}

/** An integer option the caller must give. */
export function requiredIntegerOption(where: string, options: OptionBag, name: string, range: IntegerRange): number {
  const value = options[name];
  if (value === undefined) {
    throw new InvalidOptionError(path(where, name), `${path(where, name)} is required: an integer from ${range.min}${range.max === undefined ? ' or more' : ` to ${range.max}`}`);
  }
  return checkInteger(path(where, name), value, range);
}

/** A function option the caller must give. */
export function requiredFunctionOption<F extends (...args: never[]) => unknown>(where: string, options: OptionBag, name: string): F {
  const fn = functionOption<F>(where, options, name);
  if (fn === undefined) throw new InvalidOptionError(path(where, name), `${path(where, name)} is required: a function`);
  return fn;
}

/** The same as `integerOption` when the option has no default (undefined stays undefined). */
export function optionalIntegerOption(where: string, options: OptionBag, name: string, range: IntegerRange): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  return checkInteger(path(where, name), value, range);
}

/** Check one value; exported for options nested in arrays or computed names. */
export function checkInteger(option: string, value: unknown, range: IntegerRange): number {
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > max) {
    const upper = range.max === undefined ? 'or more' : `to ${range.max}`;
    const note = range.note === undefined ? '' : ` ${range.note}`;
    throw new InvalidOptionError(option, `${option} must be an integer from ${range.min} ${upper}${note}; got ${describe(value)}`);
  }
  return value;
}

/** A finite number in [min, max] (for ratios and factors, where fractions make sense). */
export function numberOption(where: string, options: OptionBag, name: string, fallback: number, range: { min: number; max: number }): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw new InvalidOptionError(
      path(where, name),
      `${path(where, name)} must be a number from ${range.min} to ${range.max}; got ${describe(value)}`,
    );
  }
  return value;
}

export function booleanOption(where: string, options: OptionBag, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(path(where, name), `${path(where, name)} must be true or false; got ${describe(value)}`);
  }
  return value;
}

export function enumOption<T extends string>(where: string, options: OptionBag, name: string, fallback: T, allowed: readonly T[]): T {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError(
      path(where, name),
      `${path(where, name)} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${describe(value)}`,
    );
  }
  return value as T;
}

export function functionOption<F extends (...args: never[]) => unknown>(where: string, options: OptionBag, name: string): F | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new InvalidOptionError(path(where, name), `${path(where, name)} must be a function; got ${describe(value)}`);
  }
  return value as F;
}

/** A nested options object (undefined stays undefined). */
export function objectOption(where: string, options: OptionBag, name: string): OptionBag | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(path(where, name), `${path(where, name)} must be an object; got ${describe(value)}`);
  }
  return value as OptionBag;
}

/** A `Clock` option (anything with `now()` and `setTimer()`); the system clock by default. */
export function clockOption(where: string, options: OptionBag, name = 'clock'): Clock {
  const value = options[name];
  if (value === undefined) return systemClock;
  const isClock =
    value !== null && typeof value === 'object' && typeof (value as Partial<Clock>).now === 'function' && typeof (value as Partial<Clock>).setTimer === 'function';
  if (!isClock) {
    throw new InvalidOptionError(path(where, name), `${path(where, name)} must be a Clock (an object with now() and setTimer()); got ${describe(value)}`);
  }
  return value as Clock;
}
