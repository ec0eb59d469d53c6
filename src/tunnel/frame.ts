/**
 * The tunnel's wire format, version 1 (documented in docs/tunnel.md).
 *
 * Every frame is a 10-byte header and a payload:
 *
 *     0       1       2               6               10
 *     +-------+-------+---------------+---------------+-------------------+
 *     |version| type  | stream id     | length        | payload (length)  |
 *     | u8 =1 | u8    | u32 big-endian| u32 big-endian|                   |
 *     +-------+-------+---------------+---------------+-------------------+
 *
 * Session frames (HELLO, AUTH, WELCOME, GOAWAY, PING, PONG, NOTICE) use stream id 0; stream frames
 * (OPEN, OPEN_OK, OPEN_FAIL, DATA, WINDOW, FIN, RST) a non-zero id. The decoder checks everything
 * that can be checked without session state: the version, the type, the length against the type's
 * limit, the stream id's zero-ness and the payload's structure. Anything wrong throws a
 * `TunnelProtocolError`, and the session that sent it is closed; nothing is guessed or skipped,
 * because after one bad length the rest of the byte stream has no frame boundaries.
 *
 * Cost: decoding allocates nothing for frames that arrive whole in one chunk (the payload is a
 * `subarray` of the chunk); a control frame split across chunks costs one concat when it
 * completes; a DATA frame split across chunks is passed on in pieces, without a copy.
 *
 * Ownership: the caller may reuse a chunk once `push` returns (a socket's shared read buffer), so
 * the decoder copies what it keeps across calls (the start of an incomplete frame), and the
 * frames `push` returns are views of the chunk: handle them before the chunk is reused.
 */
import { TunnelProtocolError } from './errors.js';

export const FRAME_VERSION = 1;
export const HEADER_BYTES = 10;
/** Largest DATA payload a peer may send (64 KiB). */
export const MAX_DATA_PAYLOAD = 65_536;
/** Largest payload of any other frame. */
export const MAX_CONTROL_PAYLOAD = 1_024;

export const FrameType = {
  HELLO: 0x01,
  AUTH: 0x02,
  WELCOME: 0x03,
  GOAWAY: 0x04,
  PING: 0x05,
  PONG: 0x06,
  NOTICE: 0x07,
  OPEN: 0x10,
  OPEN_OK: 0x11,
  OPEN_FAIL: 0x12,
  DATA: 0x13,
  WINDOW: 0x14,
  FIN: 0x15,
  RST: 0x16,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

const SESSION_TYPES = new Set<number>([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
const STREAM_TYPES = new Set<number>([0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16]);
/** Exact payload length for fixed-size frames. */
const FIXED_LENGTH: Partial<Record<number, number>> = {
  [FrameType.HELLO]: 52,
  [FrameType.WELCOME]: 4,
  [FrameType.PING]: 12,
  [FrameType.PONG]: 8,
  [FrameType.OPEN_OK]: 4,
  [FrameType.WINDOW]: 4,
  [FrameType.FIN]: 0,
  [FrameType.RST]: 1,
};

export interface Frame {
  type: FrameTypeCode;
  streamId: number;
  payload: Buffer;
}

/** Encode one frame. `payload` is copied into the frame (one allocation). */
export function encodeFrame(type: FrameTypeCode, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload === undefined ? 0 : payload.length;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  frame[0] = FRAME_VERSION;
  frame[1] = type;
  frame.writeUInt32BE(streamId >>> 0, 2);
  frame.writeUInt32BE(length, 6);
  if (payload !== undefined && length > 0) frame.set(payload, HEADER_BYTES);
  return frame;
}

function check(frame: Frame): void {
  const { type, streamId, payload } = frame;
  if (SESSION_TYPES.has(type)) {
    if (streamId !== 0) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `frame type 0x${type.toString(16)} must use stream 0; got ${streamId}`);
  } else if (STREAM_TYPES.has(type)) {
    if (streamId === 0) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `frame type 0x${type.toString(16)} needs a stream id; got 0`);
  } else {
    throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `unknown frame type 0x${type.toString(16)}`);
  }
  const fixed = FIXED_LENGTH[type];
  if (fixed !== undefined && payload.length !== fixed) {
    throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `frame type 0x${type.toString(16)} must carry ${fixed} bytes; got ${payload.length}`);
  }
  if (type === FrameType.DATA && payload.length === 0) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'empty DATA frame');
  if (type === FrameType.WINDOW && payload.readUInt32BE(0) === 0) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'WINDOW increment of 0');
}

/**
 * Splits a byte stream into checked frames.
 *
 * A DATA payload is not reassembled: when a DATA frame spans chunks, each piece is returned as
 * its own DATA frame (same stream id, a part of the payload) as soon as it arrives. Flow control
 * counts bytes, so pieces are equivalent to the whole; and large transfers cost no copy here.
 * Every other frame is returned whole.
 * @example
 *   const decoder = new FrameDecoder();
 *   socket.on('data', (chunk) => { for (const f of decoder.push(chunk)) handle(f); });
 */
export class FrameDecoder {
  readonly maxDataPayload: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes needed before the next parse attempt is worth it. */
  #need = HEADER_BYTES;
  /** Payload bytes of the current DATA frame still to come, and its stream. */
  #dataLeft = 0;
  #dataStream = 0;
  #failed = false;

  constructor(maxDataPayload = MAX_DATA_PAYLOAD) {
    this.maxDataPayload = maxDataPayload;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  /** Feed a chunk; returns the frames it completed. Throws TunnelProtocolError on bad data, and
   * every later call throws too (the stream has lost its frame boundaries). */
  push(chunk: Buffer): Frame[] {
    if (this.#failed) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'decoder already failed');
    const frames: Frame[] = [];
    let offset = 0;
    if (this.#dataLeft > 0) {
      const n = Math.min(this.#dataLeft, chunk.length);
      frames.push({ type: FrameType.DATA, streamId: this.#dataStream, payload: chunk.subarray(0, n) });
      this.#dataLeft -= n;
      offset = n;
      if (offset === chunk.length) return frames;
    }
    let buf: Buffer;
    if (this.#pendingBytes === 0) {
      buf = chunk;
    } else if (this.#pendingBytes + chunk.length - offset < this.#need) {
      const rest = chunk.subarray(offset);
      this.#pending.push(Buffer.from(rest)); // held across calls: the caller may reuse chunk
      this.#pendingBytes += rest.length;
      return frames;
    } else {
      this.#pending.push(offset === 0 ? chunk : chunk.subarray(offset));
      buf = Buffer.concat(this.#pending);
      this.#pending = [];
      this.#pendingBytes = 0;
      offset = 0;
    }
    try {
      while (buf.length - offset >= HEADER_BYTES) {
        const version = buf[offset] as number;
        if (version !== FRAME_VERSION) throw new TunnelProtocolError('ERR_TUNNEL_VERSION', `frame version ${version}; this side speaks ${FRAME_VERSION}`);
        const type = buf[offset + 1] as number;
        const length = buf.readUInt32BE(offset + 6);
        const limit = type === FrameType.DATA ? this.maxDataPayload : MAX_CONTROL_PAYLOAD;
        if (length > limit) throw new TunnelProtocolError('ERR_TUNNEL_FRAME_TOO_LARGE', `frame type 0x${type.toString(16)} of ${length} bytes; limit ${limit}`);
        if (!SESSION_TYPES.has(type) && !STREAM_TYPES.has(type)) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `unknown frame type 0x${type.toString(16)}`);
        const streamId = buf.readUInt32BE(offset + 2);
        const end = offset + HEADER_BYTES + length;
        if (end > buf.length) {
          if (type === FrameType.DATA) {
            // Stream the payload through: what is here now, the rest as it comes.
            check({ type, streamId, payload: buf.subarray(0, 1) });
            const available = buf.length - offset - HEADER_BYTES;
            if (available > 0) frames.push({ type, streamId, payload: buf.subarray(offset + HEADER_BYTES) });
            this.#dataLeft = length - available;
            this.#dataStream = streamId;
            offset = buf.length;
            break;
          }
          this.#need = HEADER_BYTES + length;
          break;
        }
        const frame: Frame = { type: type as FrameTypeCode, streamId, payload: buf.subarray(offset + HEADER_BYTES, end) };
        check(frame);
        frames.push(frame);
        offset = end;
        this.#need = HEADER_BYTES;
      }
    } catch (error) {
      this.#failed = true;
      throw error;
    }
    if (offset < buf.length) {
      // A copy when it is the caller's chunk: the caller may reuse that buffer.
      const rest = buf === chunk ? Buffer.from(buf.subarray(offset)) : buf.subarray(offset);
      this.#pending = [rest];
      this.#pendingBytes = rest.length;
      if (this.#need < HEADER_BYTES) this.#need = HEADER_BYTES;
    } else {
      this.#need = HEADER_BYTES;
    }
    return frames;
  }
}

// ---- payloads ------------------------------------------------------------------------------

/** HELLO (server to client, first frame): the challenge and the server's keep-alive policy. */
export interface Hello {
  /** 32 random bytes the client signs. */
  nonce: Buffer;
  /** The ping interval the server expects, ms. */
  pingIntervalMs: number;
  /** The server drops a session silent for this long, ms. */
  clientTimeoutMs: number;
  /** Pings closer together than this (beyond a small burst) are limited, ms. */
  minPingIntervalMs: number;
  /** Streams this session may hold at once. */
  maxStreams: number;
  /** The server's receive window per stream, bytes. */
  windowBytes: number;
}

export function encodeHello(h: Hello): Buffer {
  const p = Buffer.alloc(52);
  h.nonce.copy(p, 0, 0, 32);
  p.writeUInt32BE(h.pingIntervalMs, 32);
  p.writeUInt32BE(h.clientTimeoutMs, 36);
  p.writeUInt32BE(h.minPingIntervalMs, 40);
  p.writeUInt32BE(h.maxStreams, 44);
  p.writeUInt32BE(h.windowBytes, 48);
  return encodeFrame(FrameType.HELLO, 0, p);
}

export function decodeHello(p: Buffer): Hello {
  return {
    nonce: Buffer.from(p.subarray(0, 32)),
    pingIntervalMs: p.readUInt32BE(32),
    clientTimeoutMs: p.readUInt32BE(36),
    minPingIntervalMs: p.readUInt32BE(40),
    maxStreams: p.readUInt32BE(44),
    windowBytes: p.readUInt32BE(48),
  };
}

export const AuthMethod = { TOKEN: 1, CERTIFICATE: 2 } as const;

/** AUTH (client to server): the HMAC of the challenge (token method) and who the client is. */
export interface Auth {
  method: 1 | 2;
  /** 32 bytes: HMAC-SHA256 (token method) or zeros (certificate method). */
  mac: Buffer;
  /** Reconnects this client process has made, for the server's status. */
  reconnects: number;
  /** The client's name (0..64 bytes UTF-8), for status. */
  name: string;
}

export function encodeAuth(a: Auth): Buffer {
  const name = Buffer.from(a.name, 'utf8').subarray(0, 64);
  const p = Buffer.alloc(38 + name.length);
  p[0] = a.method;
  a.mac.copy(p, 1, 0, 32);
  p.writeUInt32BE(a.reconnects >>> 0, 33);
  p[37] = name.length;
  name.copy(p, 38);
  return encodeFrame(FrameType.AUTH, 0, p);
}

export function decodeAuth(p: Buffer): Auth {
  if (p.length < 38) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `AUTH of ${p.length} bytes; at least 38`);
  const method = p[0];
  if (method !== 1 && method !== 2) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `unknown AUTH method ${String(method)}`);
  const nameLength = p[37] as number;
  if (nameLength > 64 || p.length !== 38 + nameLength) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'AUTH name length does not match the frame');
  return { method, mac: Buffer.from(p.subarray(1, 33)), reconnects: p.readUInt32BE(33), name: p.toString('utf8', 38) };
}

/** GOAWAY: a stable error code (ASCII, 1..64 bytes) and a message. */
export function encodeGoaway(code: string, message: string): Buffer {
  const c = Buffer.from(code.slice(0, 64), 'latin1');
  const m = Buffer.from(message, 'utf8').subarray(0, MAX_CONTROL_PAYLOAD - 1 - c.length);
  return encodeFrame(FrameType.GOAWAY, 0, Buffer.concat([Buffer.from([c.length]), c, m]));
}

export function decodeGoaway(p: Buffer): { code: string; message: string } {
  const n = p[0];
  if (n === undefined || n === 0 || n > 64 || p.length < 1 + n) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'malformed GOAWAY');
  return { code: p.toString('latin1', 1, 1 + n), message: p.toString('utf8', 1 + n) };
}

/** PING: a sequence number and the client's last measured RTT (µs, 0 = none) for the server's status. */
export function encodePing(sequence: number, lastRttUs: number): Buffer {
  const p = Buffer.alloc(12);
  p.writeBigUInt64BE(BigInt(sequence), 0);
  p.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(lastRttUs))), 8);
  return encodeFrame(FrameType.PING, 0, p);
}

export const NoticeKind = { PING_RATE: 1 } as const;

/** NOTICE (server to client): something the client should change, e.g. its ping rate. */
export function encodeNotice(kind: number, value: number, message: string): Buffer {
  const m = Buffer.from(message, 'utf8').subarray(0, MAX_CONTROL_PAYLOAD - 5);
  const p = Buffer.alloc(5 + m.length);
  p[0] = kind;
  p.writeUInt32BE(value >>> 0, 1);
  m.copy(p, 5);
  return encodeFrame(FrameType.NOTICE, 0, p);
}

export function decodeNotice(p: Buffer): { kind: number; value: number; message: string } {
  if (p.length < 5) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'malformed NOTICE');
  return { kind: p[0] as number, value: p.readUInt32BE(1), message: p.toString('utf8', 5) };
}

/** OPEN_FAIL: a SOCKS5 reply code (RFC 1928) and a message. */
export function encodeOpenFail(streamId: number, reply: number, message: string): Buffer {
  const m = Buffer.from(message, 'utf8').subarray(0, MAX_CONTROL_PAYLOAD - 1);
  return encodeFrame(FrameType.OPEN_FAIL, streamId, Buffer.concat([Buffer.from([reply]), m]));
}

export function decodeOpenFail(p: Buffer): { reply: number; message: string } {
  const reply = p[0];
  if (reply === undefined || reply === 0 || reply > 8) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'malformed OPEN_FAIL');
  return { reply, message: p.toString('utf8', 1) };
}

export function encodeU32(type: FrameTypeCode, streamId: number, value: number): Buffer {
  const frame = encodeFrame(type, streamId, Buffer.alloc(4));
  frame.writeUInt32BE(value >>> 0, HEADER_BYTES);
  return frame;
}
