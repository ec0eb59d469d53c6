/**
 * A raw-socket HTTP/1.1 client for wire-level server tests: one connection, requests written as
 * given (so pipelining and malformed input are possible), responses parsed in order (status,
 * headers, Content-Length body; no Content-Length means the body runs to the close).
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawClient {
  readonly socket: net.Socket;
  readonly connected: Promise<void>;
  /** Resolves when the socket closes, with whether an error (e.g. ECONNRESET) happened. */
  readonly closed: Promise<{ error: Error | undefined; at: number }>;
  #buffer = '';
  #ended = false;
  #error: Error | undefined;
  #waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (d: string) => {
      this.#buffer += d;
      this.#wake();
    });
    this.socket.on('end', () => {
      this.#ended = true;
      this.#wake();
    });
    this.socket.on('error', (e) => {
      this.#error = e;
      this.#wake();
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.#ended = true;
        this.#wake();
        resolve({ error: this.#error, at: performance.now() });
      }),
    );
  }

  static request(path = '/', extra = ''): string {
    return `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
  }

  write(raw: string): void {
    this.socket.write(raw);
  }

  /** Send one GET and read its response. */
  async get(path = '/', extra = ''): Promise<RawResponse> {
    this.write(RawClient.request(path, extra));
    return this.read();
  }

  /** Read the next response; rejects if the connection ends first. */
  async read(): Promise<RawResponse> {
    for (;;) {
      const parsed = this.#parse();
      if (parsed !== undefined) return parsed;
      if (this.#ended || this.#error !== undefined) throw this.#error ?? new Error(`connection closed; unparsed: ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.#ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #parse(): RawResponse | undefined {
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const lines = this.#buffer.slice(0, end).split('\r\n');
    const status = Number((lines[0] ?? '').split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = headers['content-length'];
    const start = end + 4;
    if (length === undefined) {
      if (!this.#ended) return undefined;
      const body = this.#buffer.slice(start);
      this.#buffer = '';
      return { status, headers, body };
    }
    if (this.#buffer.length < start + Number(length)) return undefined;
    const body = this.#buffer.slice(start, start + Number(length));
    this.#buffer = this.#buffer.slice(start + Number(length));
    return { status, headers, body };
  }
}
