/**
 * `ChunkedDecoder`: strips the chunked framing from a body that a ChunkedScanner has already
 * validated, handing on the chunk data only.
 *
 * Why: the proxy forwards an HTTP/1 backend's chunked body to an HTTP/2 client, which frames the
 * body itself (DATA frames); the chunk sizes, extensions and trailer section must not reach it.
 * Validation stays in the scanner (one strict parser decides where the body ends); this decoder
 * only skips framing, so it accepts what the scanner accepted and never looks at data bytes.
 *
 * Invariants: data pieces are subarrays of the input (no copy); after the final CRLF `done` is
 * true and further bytes are ignored.
 */
const S_SIZE = 0; // hex digits of a chunk size
const S_LINE = 1; // extensions up to the size line's LF
const S_DATA = 2;
const S_DATA_CR = 3;
const S_DATA_LF = 4;
const S_TRAILER = 5; // at the start of a trailer line (or the final CRLF)
const S_TRAILER_LINE = 6;
const S_DONE = 7;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

export class ChunkedDecoder {
  #state = S_SIZE;
  #size = 0;

  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** Calls `onData` with each run of chunk data in `buf`, in order. */
  decode(buf: Buffer, onData: (piece: Buffer) => void): void {
    let i = 0;
    const n = buf.length;
    while (i < n && this.#state !== S_DONE) {
      switch (this.#state) {
        case S_SIZE: {
          const v = hexValue(buf[i] as number);
          if (v >= 0) {
            this.#size = this.#size * 16 + v;
            i++;
          } else this.#state = S_LINE;
          break;
        }
        case S_LINE:
          if (buf[i] === 0x0a) this.#state = this.#size === 0 ? S_TRAILER : S_DATA;
          i++;
          break;
        case S_DATA: {
          const take = Math.min(this.#size, n - i);
          onData(buf.subarray(i, i + take));
          this.#size -= take;
          i += take;
          if (this.#size === 0) this.#state = S_DATA_CR;
          break;
        }
        case S_DATA_CR:
          this.#state = S_DATA_LF;
          i++;
          break;
        case S_DATA_LF:
          this.#state = S_SIZE;
          this.#size = 0;
          i++;
          break;
        case S_TRAILER:
          if (buf[i] === 0x0d) i++;
          else if (buf[i] === 0x0a) {
            this.#state = S_DONE;
            i++;
          } else this.#state = S_TRAILER_LINE;
          break;
        case S_TRAILER_LINE:
          if (buf[i] === 0x0a) this.#state = S_TRAILER;
          i++;
          break;
      }
    }
  }
}
