/**
 * The error a request gets when a reused keep-alive connection died under it and the agent could
 * not safely send the request again (see docs/agent.md, "Stale-socket rules").
 */
import { LifelineError } from '../../core/errors.js';

/**
 * `code: 'ERR_STALE_SOCKET'`, `reusedSocket: true`; `cause` is the socket's own error (ECONNRESET,
 * EPIPE) or undefined when the server closed cleanly (FIN) before answering.
 *
 * @example
 *   req.on('error', (err) => {
 *     if (err instanceof StaleSocketError) console.log(err.method, 'may have reached the server');
 *   });
 */
export class StaleSocketError extends LifelineError {
  /** Always true: this error only happens on a reused connection. */
  readonly reusedSocket = true as const;
  /** The request's method. */
  readonly method: string;
  /** Request bytes the agent had handed to the socket before it failed. */
  readonly bytesWritten: number;

  constructor(method: string, bytesWritten: number, why: string, cause?: unknown) {
    super(
      'ERR_STALE_SOCKET',
      `${method} failed on a reused keep-alive connection before any response byte (${why}); ` +
        'not retried because the request may already have reached the server',
      cause === undefined ? undefined : { cause },
    );
    this.method = method;
    this.bytesWritten = bytesWritten;
  }
}
