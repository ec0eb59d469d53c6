/**
 * An incremental RFC 6455 frame-header scanner for one direction of a WebSocket tunnel.
 *
 * Why: the proxy injects its own Ping frames into a tunnel (websocket-pinger.ts), and a control
 * frame may only go between frames (RFC 6455 5.4 also allows it between the fragments of a
 * message). So the proxy has to know where each frame ends while the bytes stream through.
 *
 * Invariants
 * - Only headers are read: FIN/RSV/opcode byte, mask bit + 7/16/64-bit payload length, 4-byte
 *   mask key. Payload bytes are counted, never copied or unmasked, except the payload of a Pong
 *   frame (at most 125 bytes), which is captured unmasked so the pinger can recognise its own.
 * - Headers may be split at any byte across chunks; at most 14 header bytes are kept.
 * - `advance()` stops at the end of every frame, so the caller sees each boundary.
 * - RSV bits are not checked: an extension negotiated end to end (permessage-deflate sets RSV1)
 *   is none of the proxy's business.
 * - Malformed headers throw `WebSocketFrameError` (ERR_WEBSOCKET_FRAME): a reserved opcode, a
 *   64-bit length with the top bit set (or above 2^53 - 1, beyond exact counting), a control
 *   frame longer than 125 bytes or fragmented. After a throw the scanner must not be used again.
 */
import { LifelineError } from '../../core/errors.js';

export const OPCODE_CONTINUATION = 0x0;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

/** A frame header that no WebSocket endpoint may send; the tunnel cannot be framed past it. */
export class WebSocketFrameError extends LifelineError {
  constructor(message: string) {
    super('ERR_WEBSOCKET_FRAME', message);
  }
}

const MAX_CONTROL_PAYLOAD = 125;

/**
 * @example
 *   const scanner = new WebSocketFrameScanner();
 *   for (let at = 0; at < chunk.length; ) {
 *     at = scanner.advance(chunk, at, chunk.length);
 *     if (scanner.atBoundary) console.log('frame ended at', at, 'opcode', scanner.opcode);
 *   }
 */
export class WebSocketFrameScanner {
  readonly #header = Buffer.alloc(14);
  /** Header bytes seen of the current frame. */
  #headerSeen = 0;
  /** Header length of the current frame (2 until the second byte tells more). */
  #headerNeed = 2;
  /** Payload bytes still to come of the current frame. */
  #remaining = 0;
  /** True between frames. */
  #atBoundary = true;
  #inPayload = false;
  #opcode = -1;
  #fin = false;
  #masked = false;
  #payloadLength = 0;
  /** Pong payload, captured unmasked. */
  readonly #pong = Buffer.alloc(MAX_CONTROL_PAYLOAD);
  #pongSeen = 0;

  /** No frame (header or payload) in progress. */
  get atBoundary(): boolean {
    return this.#atBoundary;
  }

  /** Opcode of the frame in progress or just ended; -1 before the first byte. */
  get opcode(): number {
    return this.#opcode;
  }

  /** FIN bit of the frame in progress or just ended. */
  get fin(): boolean {
    return this.#fin;
  }

  /** Whether the frame in progress or just ended is masked (client-to-server frames are). */
  get masked(): boolean {
    return this.#masked;
  }

  /** Payload length of the frame in progress (known once its header is complete). */
  get payloadLength(): number {
    return this.#payloadLength;
  }

  /** The unmasked payload of the Pong frame that just ended (valid until the next `advance`). */
  pongPayload(): Buffer {
    return this.#pong.subarray(0, this.#pongSeen);
  }

  /**
   * Scan `chunk[offset..end)` up to the end of the current frame or of the chunk, whichever
   * comes first; returns the index reached. `atBoundary` then says whether a frame ended there.
   */
  advance(chunk: Buffer, offset: number, end: number): number {
    let i = offset;
    while (i < end) {
      if (!this.#inPayload) {
        // Header bytes, one at a time (at most 14 per frame).
        const byte = chunk[i] as number;
        i += 1;
        if (this.#headerSeen === 0) this.#first(byte);
        this.#header[this.#headerSeen] = byte;
        this.#headerSeen += 1;
        if (this.#headerSeen === 2) this.#second(byte);
        if (this.#headerSeen < this.#headerNeed) continue;
        this.#headerDone();
        if (this.#remaining === 0) {
          this.#endFrame();
          return i;
        }
        continue;
      }
      const n = Math.min(this.#remaining, end - i);
      if (this.#opcode === OPCODE_PONG) this.#capture(chunk, i, n);
      this.#remaining -= n;
      i += n;
      if (this.#remaining === 0) {
        this.#endFrame();
        return i;
      }
    }
    return i;
  }

  #first(byte: number): void {
    this.#atBoundary = false;
    this.#fin = (byte & 0x80) !== 0;
    const opcode = byte & 0x0f;
    this.#opcode = opcode;
    this.#pongSeen = 0;
    if ((opcode > OPCODE_BINARY && opcode < OPCODE_CLOSE) || opcode > OPCODE_PONG) {
      throw new WebSocketFrameError(`reserved WebSocket opcode 0x${opcode.toString(16)}`);
    }
    if (opcode >= OPCODE_CLOSE && !this.#fin) throw new WebSocketFrameError(`fragmented WebSocket control frame (opcode 0x${opcode.toString(16)})`);
  }

  #second(byte: number): void {
    this.#masked = (byte & 0x80) !== 0;
    const len7 = byte & 0x7f;
    if (this.#opcode >= OPCODE_CLOSE && len7 > MAX_CONTROL_PAYLOAD) {
      throw new WebSocketFrameError(`WebSocket control frame longer than ${MAX_CONTROL_PAYLOAD} bytes`);
    }
    this.#headerNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.#masked ? 4 : 0);
  }

  #headerDone(): void {
    const h = this.#header;
    const len7 = (h[1] as number) & 0x7f;
    let length = len7;
    if (len7 === 126) length = h.readUInt16BE(2);
    else if (len7 === 127) {
      const high = h.readUInt32BE(2);
      if (high >= 0x80000000) throw new WebSocketFrameError('WebSocket frame length has its most significant bit set');
      if (high > 0x1fffff) throw new WebSocketFrameError('WebSocket frame length above 2^53 - 1');
      length = high * 0x100000000 + h.readUInt32BE(6);
    }
    // A non-minimal 16/64-bit encoding of a short length still must respect the control limit.
    if (this.#opcode >= OPCODE_CLOSE && length > MAX_CONTROL_PAYLOAD) {
      throw new WebSocketFrameError(`WebSocket control frame longer than ${MAX_CONTROL_PAYLOAD} bytes`);
    }
    this.#payloadLength = length;
    this.#remaining = length;
    this.#inPayload = length > 0;
  }

  #capture(chunk: Buffer, at: number, n: number): void {
    const key = this.#headerNeed - 4; // mask key offset in the header, when masked
    for (let k = 0; k < n; k++) {
      const b = chunk[at + k] as number;
      this.#pong[this.#pongSeen] = this.#masked ? b ^ (this.#header[key + (this.#pongSeen & 3)] as number) : b;
      this.#pongSeen += 1;
    }
  }

  #endFrame(): void {
    this.#atBoundary = true;
    this.#inPayload = false;
    this.#headerSeen = 0;
    this.#headerNeed = 2;
  }
}
