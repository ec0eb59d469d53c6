/**
 * A raw HTTP/2 client for attack tests: writes frames byte by byte as an attacker would (no
 * library in between to refuse them) and watches for the server's GOAWAY.
 */
import net from 'node:net';
import { once } from 'node:events';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK for `GET path` with `:authority` (static-table indexes, literals without indexing). */
export function getHeaderBlock(authority: string, path = '/small'): Buffer {
  const a = Buffer.from(authority, 'latin1');
  const p = Buffer.from(path, 'latin1');
  // 0x82 :method GET, 0x86 :scheme http, 0x04 :path literal, 0x01 :authority literal.
  return Buffer.concat([Buffer.from([0x82, 0x86, 0x04, p.length]), p, Buffer.from([0x01, a.length]), a]);
}

export interface RawSession {
  readonly socket: net.Socket;
  /** The first GOAWAY's error code and debug data, once one came. */
  goaway: { code: number; debug: string } | undefined;
  /** Streams the server reset (RST_STREAM), with when (performance.now()). */
  readonly resets: { stream: number; code: number; atMs: number }[];
  /** Streams the server sent a HEADERS frame on. */
  readonly headers: number[];
  /** Resolves at the first GOAWAY or when the socket closes. */
  readonly ended: Promise<void>;
  write(bytes: Buffer): boolean;
}

/** Connect to 127.0.0.1:`port`, send the preface and SETTINGS (`settings`: [id, value] pairs), ACK the server's. */
export async function rawSession(port: number, settings: readonly (readonly [number, number])[] = []): Promise<RawSession> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let buf: Buffer = Buffer.alloc(0);
  let resolveEnded!: () => void;
  const session: RawSession = {
    socket,
    goaway: undefined,
    resets: [],
    headers: [],
    ended: new Promise<void>((r) => (resolveEnded = r)),
    write: (bytes) => !socket.destroyed && socket.write(bytes),
  };
  socket.on('close', () => resolveEnded());
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3];
      const frameStream = buf.readUInt32BE(5) & 0x7fffffff;
      const flags = buf[4] ?? 0;
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      const streamId = frameStream;
      if (type === FRAME.RST_STREAM && payload.length >= 4) session.resets.push({ stream: streamId, code: payload.readUInt32BE(0), atMs: performance.now() });
      if (type === FRAME.HEADERS) session.headers.push(streamId);
      if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) session.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      if (type === FRAME.GOAWAY && session.goaway === undefined && payload.length >= 8) {
        session.goaway = { code: payload.readUInt32BE(4), debug: payload.subarray(8).toString('latin1') };
        resolveEnded();
      }
    }
  });
  const entries = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    entries.writeUInt16BE(id, 6 * i);
    entries.writeUInt32BE(value, 6 * i + 2);
  });
  session.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, entries)]));
  return session;
}
