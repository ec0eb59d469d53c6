/**
 * Reads one response from an HTTP/1.1 backend (the upstream side's codec): its head, with any
 * interim (1xx) heads before it, then where its body ends, by Content-Length, chunked framing
 * (validated as it passes, not re-encoded) or the close. Bytes are not copied except an
 * incomplete head that must outlive a borrowed read buffer.
 */
import { ChunkedScanner, parseResponseHead } from '../../http/wire/index.js';
import type { HeadLimits, ResponseHead } from '../../http/wire/index.js';

const EMPTY = Buffer.alloc(0);

export class Http1ResponseReader {
  /** The final head, once `begin()` took it. */
  head: ResponseHead | null = null;
  /** The body is complete (set by `bodyEnd`). */
  done = false;
  /** The connection can carry another request after this response. */
  reusable = true;
  #buf: Buffer = EMPTY;
  #remaining = 0;
  #scanner: ChunkedScanner | null = null;

  constructor(
    private readonly limits: HeadLimits,
    private readonly method: string,
  ) {}

  /** Bytes of the head arrived. */
  append(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
  }

  /**
   * The next head in the bytes so far (an interim one included), with the bytes after it; null
   * while incomplete (what came is kept: `keep()` it past a borrowed read). Throws HttpParseError.
   */
  nextHead(): { res: ResponseHead; rest: Buffer } | null {
    const res = parseResponseHead(this.#buf, 0, this.#buf.length, this.limits, this.method);
    if (res === null) return null;
    const rest = this.#buf.subarray(res.headBytes);
    this.#buf = EMPTY;
    return { res, rest };
  }

  /** Bytes after an interim head: the next head starts there. */
  again(rest: Buffer): void {
    this.#buf = rest;
  }

  /** An incomplete head that is a view of `borrowed` (a shared read buffer) is copied. */
  keep(borrowed: Buffer): void {
    if (this.#buf.length > 0 && this.#buf.buffer === borrowed.buffer) this.#buf = Buffer.from(this.#buf);
  }

  /** Take `res` as the response; false when it has no body at all. */
  begin(res: ResponseHead): boolean {
    this.head = res;
    this.#remaining = res.contentLength > 0 ? res.contentLength : 0;
    if (res.chunked) this.#scanner = new ChunkedScanner();
    const hasBody = !(res.noBody || (!res.chunked && !res.bodyUntilClose && res.contentLength <= 0));
    this.done = !hasBody;
    return hasBody;
  }

  /**
   * Where this response's body ends in `chunk[offset..]` (chunk.length when it goes on); sets
   * `done`. Bytes after the end make the connection not reusable. Throws HttpParseError for a bad
   * chunked body.
   */
  bodyEnd(chunk: Buffer, offset: number): number {
    const res = this.head;
    if (res === null) return offset;
    let end = chunk.length;
    if (this.#scanner !== null) {
      const at = this.#scanner.push(chunk, offset, chunk.length);
      if (at !== -1) {
        end = at;
        this.done = true;
      }
    } else if (!res.bodyUntilClose) {
      const n = Math.min(this.#remaining, chunk.length - offset);
      end = offset + n;
      this.#remaining -= n;
      this.done = this.#remaining === 0;
    }
    if (end < chunk.length) this.reusable = false;
    return end;
  }
}
