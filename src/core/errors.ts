/**
 * Errors with a stable `code`.
 *
 * Why: callers (and logs, and metrics) switch on `code`, never on message text, so messages can
 * improve without breaking anyone. A normal close (idle expiry, max requests) is a *reason*, not
 * an error; only failures get these classes.
 *
 * @example
 *   try { ... } catch (err) { if (err instanceof LifelineError && err.code === 'ERR_STALE_SOCKET') retry(); }
 */
export class LifelineError extends Error {
  /** Stable machine-readable code, e.g. `ERR_STALE_SOCKET`. Never changes between versions. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A bad option given to a constructor or function. A `TypeError` (as Node's own
 * `ERR_INVALID_ARG_VALUE` is) so it reads as a programming error, with the option's path and the
 * allowed range in the message.
 *
 * @example
 *   new TimerWheel({ resolutionMs: -1 }) // throws InvalidOptionError: resolutionMs must be ...
 */
export class InvalidOptionError extends TypeError {
  readonly code = 'ERR_INVALID_OPTION';
  /** Dotted path of the option, e.g. `tcpKeepAlive.idleMs`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(message);
    this.option = option;
    this.name = 'InvalidOptionError';
  }
}

/** An operation on an object that was already closed. */
export class ClosedError extends LifelineError {
  constructor(what: string) {
    super('ERR_CLOSED', `${what} is closed`);
  }
}
