/**
 * `ChunkedScanner`: finds the end of a chunked body and validates its framing, byte range by
 * byte range, without copying or decoding anything.
 *
 * Why: the proxy forwards a chunked body as the bytes it received. It only needs to know where
 * the message ends (after the last-chunk, the trailer section and the final CRLF) and that every
 * size line, CRLF and trailer line is strictly valid, so that no other parser can find a
 * different end (RFC 9112 7.1; chunk-size smuggling, Node's CVE-2024-22019 for extensions).
 *
 * Invariants: one state machine over the framing bytes; chunk data is skipped by arithmetic, so
 * cost is per framing byte, not per body byte. Sizes are exact integers up to 2^53-1.
 * Extensions and trailers are validated and bounded but not interpreted. After the end is found,
 * `push` returns `start` (the body is complete) until `reset()`.
 */
import { rejectUnknown, integerOption } from '../../core/options.js';
import { CR, DQUOTE, EQUALS, FIELD_VALUE, HEX, HTAB, LF, QDTEXT, QUOTED_PAIR, SEMI, SP, TOKEN, BACKSLASH, COLON } from './char-tables.js';
import { HttpParseError } from './http-parse-error.js';

/** Options of a ChunkedScanner. */
export interface ChunkedScannerOptions {
  /** Most hex digits in a chunk size, leading zeros included (default 16; 1 to 64). */
  maxChunkSizeDigits?: number;
  /** Most bytes of chunk extensions on one size line (default 4096; 0 forbids extensions). */
  maxChunkExtBytes?: number;
  /** Most bytes in the trailer section, final CRLF excluded (default 16384; 0 forbids trailers). */
  maxTrailerBytes?: number;
}

const S_SIZE_START = 0;
const S_SIZE = 1;
const S_SIZE_LF = 2;
const S_EXT_BWS = 3; // whitespace after the size: only BWS ";" may follow
const S_EXT_NAME_START = 4;
const S_EXT_NAME = 5;
const S_EXT_AFTER_NAME = 6;
const S_EXT_VALUE_START = 7;
const S_EXT_VALUE = 8;
const S_EXT_QUOTED = 9;
const S_EXT_QUOTED_PAIR = 10;
const S_EXT_AFTER_VALUE = 11;
const S_DATA = 12;
const S_DATA_CR = 13;
const S_DATA_LF = 14;
const S_TRAILER_START = 15;
const S_TRAILER_NAME = 16;
const S_TRAILER_VALUE = 17;
const S_TRAILER_LF = 18;
const S_FINAL_LF = 19;
const S_DONE = 20;
const S_EXT_QUOTED_END = 21; // just after the closing quote of an extension value
const S_FAILED = 22; // a push threw; only reset() leaves this state

const MAX_SIZE_BEFORE_DIGIT = Math.floor(Number.MAX_SAFE_INTEGER / 16);

function chunkError(message: string, offset: number): HttpParseError {
  return new HttpParseError('ERR_HTTP_BAD_CHUNK', message, offset);
}

function trailerError(message: string, offset: number): HttpParseError {
  return new HttpParseError('ERR_HTTP_BAD_TRAILER', message, offset);
}

function isWs(c: number): boolean {
  return c === SP || c === HTAB;
}

/**
 * Incremental validator of one chunked body at a time.
 *
 * @example
 *   const scanner = new ChunkedScanner();
 *   // for each read: forward buf[start, end) up to the end of the body
 *   const stop = scanner.push(buf, start, end);
 *   if (stop >= 0) { forward(buf, start, stop); scanner.reset(); nextMessageAt(stop); }
 *   else forward(buf, start, end);
 */
export class ChunkedScanner {
  private readonly maxDigits: number;
  private readonly maxExtBytes: number;
  private readonly maxTrailerBytes: number;
  private state = S_SIZE_START;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private extBytes = 0;
  private trailerBytes = 0;
  private data = 0;

  constructor(options?: ChunkedScannerOptions) {
    const bag = rejectUnknown('ChunkedScanner', options, ['maxChunkSizeDigits', 'maxChunkExtBytes', 'maxTrailerBytes']);
    this.maxDigits = integerOption('ChunkedScanner', bag, 'maxChunkSizeDigits', 16, { min: 1, max: 64 });
    this.maxExtBytes = integerOption('ChunkedScanner', bag, 'maxChunkExtBytes', 4096, { min: 0 });
    this.maxTrailerBytes = integerOption('ChunkedScanner', bag, 'maxTrailerBytes', 16384, { min: 0 });
  }

  /** Chunk data bytes seen so far (framing, extensions and trailers excluded). */
  get dataBytes(): number {
    return this.data;
  }

  /** True once the end of the body has been found. */
  get done(): boolean {
    return this.state === S_DONE;
  }

  /** Start over for the next body. */
  reset(): void {
    this.state = S_SIZE_START;
    this.size = 0;
    this.digits = 0;
    this.remaining = 0;
    this.extBytes = 0;
    this.trailerBytes = 0;
    this.data = 0;
  }

  /**
   * Scan buf[start, end), which continues the bytes given before.
   *
   * @returns the index just past the end of the body (the final CRLF), or -1 if the body goes on.
   * @throws HttpParseError ERR_HTTP_BAD_CHUNK or ERR_HTTP_BAD_TRAILER; the scanner is then unusable until reset().
   */
  push(buf: Buffer, start: number, end: number): number {
    let state = this.state;
    if (state === S_DONE) return start;
    if (state === S_FAILED) throw chunkError('the chunked body was already found invalid', start);
    // Any throw below leaves S_FAILED behind; every normal exit stores the real state.
    this.state = S_FAILED;
    let i = start;
    while (i < end) {
      if (state === S_DATA) {
        const avail = end - i;
        if (avail < this.remaining) {
          this.remaining -= avail;
          this.data += avail;
          i = end;
          break;
        }
        i += this.remaining;
        this.data += this.remaining;
        this.remaining = 0;
        state = S_DATA_CR;
        continue;
      }
      const c = buf[i]!;
      switch (state) {
        case S_SIZE_START: {
          const d = HEX[c]!;
          if (d < 0) {
            throw chunkError(isWs(c) ? 'whitespace before a chunk size' : c === CR || c === LF ? 'empty chunk size' : `byte 0x${c.toString(16)} in a chunk size`, i);
          }
          this.size = d;
          this.digits = 1;
          this.extBytes = 0;
          state = S_SIZE;
          break;
        }
        case S_SIZE: {
          const d = HEX[c]!;
          if (d >= 0) {
            if (++this.digits > this.maxDigits) throw chunkError(`chunk size longer than ${this.maxDigits} digits`, i);
            if (this.size > MAX_SIZE_BEFORE_DIGIT || this.size * 16 + d > Number.MAX_SAFE_INTEGER) {
              throw chunkError('chunk size larger than 2^53-1', i);
            }
            this.size = this.size * 16 + d;
          } else if (c === CR) {
            state = S_SIZE_LF;
          } else if (c === SEMI) {
            state = S_EXT_NAME_START;
          } else if (isWs(c)) {
            state = S_EXT_BWS;
          } else if (c === LF) {
            throw chunkError('chunk size line ends in LF without CR', i);
          } else {
            throw chunkError(`byte 0x${c.toString(16)} in a chunk size`, i);
          }
          break;
        }
        case S_SIZE_LF:
          if (c !== LF) throw chunkError('CR not followed by LF after a chunk size', i);
          if (this.size === 0) {
            this.trailerBytes = 0;
            state = S_TRAILER_START;
          } else {
            this.remaining = this.size;
            state = S_DATA;
          }
          break;
        case S_DATA_CR:
          if (c !== CR) throw chunkError(c === LF ? 'chunk data ends in LF without CR' : 'chunk data longer than its size', i);
          state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) throw chunkError('CR not followed by LF after chunk data', i);
          state = S_SIZE_START;
          break;
        case S_TRAILER_START:
          if (c === CR) {
            state = S_FINAL_LF;
            break;
          }
          if (c === LF) throw trailerError('line ends in LF without CR', i);
          if (isWs(c)) throw trailerError('trailer line starts with whitespace (obsolete line folding)', i);
          if (TOKEN[c] !== 1) throw trailerError(`byte 0x${c.toString(16)} in a trailer field name`, i);
          state = S_TRAILER_NAME;
          if (++this.trailerBytes > this.maxTrailerBytes) throw trailerError(`trailer section larger than ${this.maxTrailerBytes} bytes`, i);
          break;
        case S_TRAILER_NAME:
          if (c === COLON) state = S_TRAILER_VALUE;
          else if (TOKEN[c] !== 1) throw trailerError(isWs(c) ? 'whitespace between trailer field name and colon' : `byte 0x${c.toString(16)} in a trailer field name`, i);
          if (++this.trailerBytes > this.maxTrailerBytes) throw trailerError(`trailer section larger than ${this.maxTrailerBytes} bytes`, i);
          break;
        case S_TRAILER_VALUE:
          if (c === CR) state = S_TRAILER_LF;
          else if (FIELD_VALUE[c] !== 1) throw trailerError(c === LF ? 'line ends in LF without CR' : `control byte 0x${c.toString(16)} in a trailer value`, i);
          if (++this.trailerBytes > this.maxTrailerBytes) throw trailerError(`trailer section larger than ${this.maxTrailerBytes} bytes`, i);
          break;
        case S_TRAILER_LF:
          if (c !== LF) throw trailerError('CR not followed by LF in the trailer section', i);
          state = S_TRAILER_START;
          break;
        case S_FINAL_LF:
          if (c !== LF) throw chunkError('CR not followed by LF at the end of a chunked body', i);
          this.state = S_DONE;
          return i + 1;
        default:
          state = this.extension(state, c, i);
      }
      i++;
    }
    this.state = state;
    return -1;
  }

  /** One byte of a chunk extension: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). */
  private extension(state: number, c: number, i: number): number {
    if (++this.extBytes > this.maxExtBytes) throw chunkError(`chunk extensions longer than ${this.maxExtBytes} bytes`, i);
    switch (state) {
      case S_EXT_BWS:
        if (c === SEMI) return S_EXT_NAME_START;
        if (isWs(c)) return state;
        throw chunkError('whitespace after a chunk size', i);
      case S_EXT_NAME_START:
        if (TOKEN[c] === 1) return S_EXT_NAME;
        if (isWs(c)) return state;
        throw chunkError('chunk extension without a name', i);
      case S_EXT_NAME:
      case S_EXT_AFTER_NAME:
        if (state === S_EXT_NAME && TOKEN[c] === 1) return state;
        if (c === EQUALS) return S_EXT_VALUE_START;
        if (c === SEMI) return S_EXT_NAME_START;
        if (isWs(c)) return S_EXT_AFTER_NAME;
        if (c === CR && state === S_EXT_NAME) return S_SIZE_LF;
        throw chunkError(c === CR ? 'whitespace at the end of a chunk size line' : 'invalid chunk extension', i);
      case S_EXT_VALUE_START:
        if (c === DQUOTE) return S_EXT_QUOTED;
        if (TOKEN[c] === 1) return S_EXT_VALUE;
        if (isWs(c)) return state;
        throw chunkError('chunk extension without a value after "="', i);
      case S_EXT_VALUE:
      case S_EXT_AFTER_VALUE:
        if (state === S_EXT_VALUE && TOKEN[c] === 1) return state;
        if (c === SEMI) return S_EXT_NAME_START;
        if (isWs(c)) return S_EXT_AFTER_VALUE;
        if (c === CR && state === S_EXT_VALUE) return S_SIZE_LF;
        throw chunkError(c === CR ? 'whitespace at the end of a chunk size line' : 'invalid chunk extension value', i);
      case S_EXT_QUOTED:
        if (c === DQUOTE) return S_EXT_QUOTED_END;
        if (c === BACKSLASH) return S_EXT_QUOTED_PAIR;
        if (QDTEXT[c] === 1) return state;
        throw chunkError('control byte in a quoted chunk extension', i);
      case S_EXT_QUOTED_END:
        if (c === CR) return S_SIZE_LF;
        if (c === SEMI) return S_EXT_NAME_START;
        if (isWs(c)) return S_EXT_AFTER_VALUE;
        throw chunkError('invalid byte after a quoted chunk extension value', i);
      case S_EXT_QUOTED_PAIR:
        if (QUOTED_PAIR[c] === 1) return S_EXT_QUOTED;
        throw chunkError('control byte in a quoted chunk extension', i);
      default:
        throw new Error(`ChunkedScanner: unknown state ${state}`);
    }
  }
}
