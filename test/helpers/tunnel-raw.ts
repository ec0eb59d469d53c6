// A raw tunnel client for wire-level tests: TLS to the server, HELLO read, AUTH computed the way
// the real client does (or skipped), then arbitrary bytes. Everything the server sends is decoded
// and kept, so a test can see GOAWAY codes, PONGs and NOTICEs.
import { once } from 'node:events';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { authMac } from '../../src/tunnel/auth.js';
import type { Frame, Hello } from '../../src/tunnel/frame.js';
import { AuthMethod, FrameDecoder, FrameType, decodeGoaway, decodeHello, encodeAuth } from '../../src/tunnel/frame.js';
import { EXPORTER_BYTES, EXPORTER_LABEL } from '../../src/tunnel/auth.js';

export class RawSession {
  readonly socket: TLSSocket;
  readonly frames: Frame[] = [];
  closed = false;
  goaway: { code: string; message: string } | undefined;
  decodeError: Error | undefined;
  hello: Hello | undefined;
  readonly #decoder = new FrameDecoder();
  #wake: (() => void)[] = [];

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of this.#decoder.push(chunk)) {
          this.frames.push(Buffer.isBuffer(f.payload) ? { ...f, payload: Buffer.from(f.payload) } : f);
          if (f.type === FrameType.GOAWAY) this.goaway = decodeGoaway(f.payload);
          if (f.type === FrameType.HELLO) this.hello = decodeHello(f.payload);
        }
      } catch (error) {
        this.decodeError = error as Error;
      }
      this.#notify();
    });
    socket.once('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  /** Connect and wait for HELLO; with `token`, authenticate and wait for WELCOME. */
  static async open(port: number, token: string | undefined, host = '127.0.0.1'): Promise<RawSession> {
    const socket = tls.connect({ port, host, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    await once(socket, 'secureConnect');
    const s = new RawSession(socket);
    await s.waitFrame(FrameType.HELLO, 5000);
    if (token !== undefined) {
      const exporter = socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
      const mac = authMac(token, (s.hello as Hello).nonce, exporter);
      socket.write(encodeAuth({ method: AuthMethod.TOKEN, mac, reconnects: 0, name: 'raw' }));
      const welcome = await s.waitFrame(FrameType.WELCOME, 5000);
      if (welcome === undefined) throw new Error(`no WELCOME: ${JSON.stringify(s.goaway)}`);
    }
    return s;
  }

  #notify(): void {
    for (const w of this.#wake.splice(0)) w();
  }

  /** Wait until `pred` holds or the socket closes or `timeoutMs` passes; returns pred's last value. */
  async until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pred()) return true;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return pred();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitFrame(type: number, timeoutMs: number, predicate: (f: Frame) => boolean = () => true): Promise<Frame | undefined> {
    let found: Frame | undefined;
    await this.until(() => (found = this.frames.find((f) => f.type === type && predicate(f))) !== undefined, timeoutMs);
    return found;
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
