/**
 * Read a small JSON object from a request body (the admin and lease APIs' POST bodies).
 *
 * Why bounded: an API body is a few hundred bytes; anything over `maxBytes` is refused as soon as
 * it is seen (the request is destroyed, nothing more is buffered), so a client cannot make the
 * server hold a large body in memory.
 */
import type { IncomingMessage } from 'node:http';
import { LifelineError } from '../../core/errors.js';

export type JsonBodyErrorCode = 'ERR_JSON_BODY_TOO_LARGE' | 'ERR_JSON_BODY_INVALID';

/** Why a body was refused: too large (413) or not a JSON object (400); the message says which. */
export class JsonBodyError extends LifelineError {
  declare readonly code: JsonBodyErrorCode;
  /** The status an HTTP API answers with: 413 for too large, 400 otherwise. */
  readonly httpStatus: 413 | 400;

  constructor(code: JsonBodyErrorCode, message: string) {
    super(code, message);
    this.httpStatus = code === 'ERR_JSON_BODY_TOO_LARGE' ? 413 : 400;
  }
}

export interface ReadJsonOptions {
  /** An empty (or all-whitespace) body reads as `{}` instead of failing. Default false. */
  emptyIsObject?: boolean;
}

/**
 * The body parsed as a JSON object (not an array, not null). Rejects with `JsonBodyError`, or
 * with the request's own error if the stream fails.
 *
 * @example
 *   const body = await readJsonObject(req, 16_384);
 */
export function readJsonObject(req: IncomingMessage, maxBytes: number, options: ReadJsonOptions = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) {
        fail(new JsonBodyError('ERR_JSON_BODY_TOO_LARGE', `request body over ${maxBytes} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('error', fail);
    req.on('end', () => {
      if (settled) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (options.emptyIsObject === true && text.trim() === '') {
        settled = true;
        resolve({});
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        fail(new JsonBodyError('ERR_JSON_BODY_INVALID', `the body is not JSON (${(error as Error).message})`));
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
        fail(new JsonBodyError('ERR_JSON_BODY_INVALID', `the body must be a JSON object, not ${kind}`));
        return;
      }
      settled = true;
      resolve(value as Record<string, unknown>);
    });
  });
}
