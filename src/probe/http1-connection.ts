/**
 * One raw HTTP/1.1 connection under measurement: sends a request, reads exactly one response
 * (strict parser, Content-Length or chunked framing), and notes the exact moment and manner of
 * the server's close: a FIN ('end') or an RST (ECONNRESET), told apart, timed with
 * `performance.now()`.
 *
 * States: `busy` (a request is out), `idle` (between responses), `closed`. Every connection of a
 * measurement is on a `ConnectionSet`, whose `close()` destroys whatever is still open.
 */
import type { Socket } from 'node:net';
import { StateTable } from '../core/state-table.js';
import type { StateItem } from '../core/state-table.js';
import { reasonFromError } from '../core/close-reason.js';
import type { CloseReason } from '../core/close-reason.js';
import { ProbeResponseError } from './probe-errors.js';
import { ChunkedScanner, DEFAULT_HEAD_LIMITS, parseResponseHead } from '../http/wire/index.js';
import type { ResponseHead } from '../http/wire/index.js';
import type { Target } from './target.js';

export type ConnState = 'busy' | 'idle' | 'closed';

/** How a connection ended. */
export interface CloseSeen {
  /** `peer_close` (the server's FIN), `reset` (its RST), another remote reason from
   * `reasonFromError`, or `shutdown` when the probe closed it itself. */
  reason: CloseReason;
  /** `performance.now()` of the close. */
  at: number;
  /** The socket error's code, for `rst` and `error`. */
  code: string | undefined;
  /** Status of a response the server sent unasked just before closing (a 408), if any. */
  unaskedStatus: number | undefined;
}

/** One response, read whole. */
export interface Response {
  head: ResponseHead;
  /** `performance.now()` when its last byte arrived. */
  endedAt: number;
  /** The body ran until the server closed (no framing). */
  endedByClose: boolean;
}

/** The bytes of a GET (or of a request head with more fields) for `target`. */
export function requestHead(target: Target, method = 'GET', extra = ''): string {
  return `${method} ${target.path} HTTP/1.1\r\nHost: ${target.hostHeader}\r\nUser-Agent: lifeline-probe\r\nAccept: */*\r\n${extra}\r\n`;
}

/** One request/response exchange: its own state, dropped when the response is whole. */
class Exchange {
  readonly method: string;
  readonly resolve: (r: Response) => void;
  readonly reject: (e: Error) => void;
  head: ResponseHead | undefined;
  scanner: ChunkedScanner | undefined;
  bodyLeft = 0;

  constructor(method: string, resolve: (r: Response) => void, reject: (e: Error) => void) {
    this.method = method;
    this.resolve = resolve;
    this.reject = reject;
  }
}

export class ProbeConnection implements StateItem<ConnState> {
  state: ConnState = 'idle';
  prev: this | undefined;
  next: this | undefined;
  readonly socket: Socket;
  /** Resolves once, when the connection is closed by either side. */
  readonly closed: Promise<CloseSeen>;
  #buf: Buffer = Buffer.alloc(0);
  #exchange: Exchange | undefined;
  #seen: CloseSeen | undefined;
  #unaskedStatus: number | undefined;
  readonly #set: ConnectionSet;

  constructor(set: ConnectionSet, socket: Socket) {
    this.#set = set;
    this.socket = socket;
    set.table.add(this, 'idle');
    this.closed = new Promise((resolve) => {
      const finish = (reason: CloseReason, code: string | undefined): void => {
        if (this.#seen !== undefined) return;
        this.#seen = { reason, at: performance.now(), code, unaskedStatus: this.#unaskedStatus };
        const wasBusy = this.state === 'busy';
        set.table.move(this, 'closed');
        if (wasBusy) this.#closedWhileBusy();
        resolve(this.#seen);
      };
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.once('end', () => finish('peer_close', undefined));
      socket.once('error', (error: Error & { code?: string }) => finish(reasonFromError(error), error.code));
      socket.once('close', () => finish('shutdown', undefined));
    });
  }

  /** Send `head` (default: a GET) and read its response. Rejects if the server closes first. */
  request(head: string, method = 'GET'): Promise<Response> {
    this.#set.table.move(this, 'busy');
    return new Promise((resolve, reject) => {
      this.#exchange = new Exchange(method, resolve, reject);
      this.socket.write(head, 'latin1');
    });
  }

  /** Destroy the socket (idempotent). */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const ex = this.#exchange;
    if (ex === undefined) {
      // Bytes nobody asked for: typically a 408 before the server closes. Note its status only.
      try {
        const head = parseResponseHead(this.#buf, 0, this.#buf.length, DEFAULT_HEAD_LIMITS, 'GET');
        if (head !== null) this.#unaskedStatus = head.statusCode;
      } catch {
        this.#unaskedStatus ??= 0;
      }
      return;
    }
    try {
      this.#advance(ex);
    } catch (error) {
      // Bad wire data from the server: say so, with the parser's reason and byte offset.
      const at = (error as { offset?: unknown }).offset;
      const why = error instanceof Error ? error.message : String(error);
      this.#fail(new ProbeResponseError('ERR_PROBE_BAD_RESPONSE', `bad HTTP/1.1 response from the server: ${why}${typeof at === 'number' ? ` (byte ${at})` : ''}`, error));
      this.socket.destroy();
    }
  }

  #advance(ex: Exchange): void {
    for (;;) {
      if (ex.head === undefined) {
        const head = parseResponseHead(this.#buf, 0, this.#buf.length, DEFAULT_HEAD_LIMITS, ex.method);
        if (head === null) return;
        this.#buf = this.#buf.subarray(head.headBytes);
        if (head.statusCode < 200 && head.statusCode !== 101) continue; // 1xx: the real head follows
        ex.head = head;
        if (head.chunked) ex.scanner = new ChunkedScanner();
        else ex.bodyLeft = head.contentLength;
      }
      const head = ex.head;
      if (head.bodyUntilClose) {
        this.#buf = Buffer.alloc(0);
        return;
      }
      if (ex.scanner !== undefined) {
        const stop = ex.scanner.push(this.#buf, 0, this.#buf.length);
        if (stop < 0) {
          this.#buf = Buffer.alloc(0);
          return;
        }
        this.#buf = this.#buf.subarray(stop);
      } else {
        const take = Math.min(ex.bodyLeft, this.#buf.length);
        ex.bodyLeft -= take;
        this.#buf = this.#buf.subarray(take);
        if (ex.bodyLeft > 0) return;
      }
      this.#complete(ex, head, false);
      return;
    }
  }

  #complete(ex: Exchange, head: ResponseHead, byClose: boolean): void {
    this.#exchange = undefined;
    if (this.state === 'busy') this.#set.table.move(this, 'idle');
    ex.resolve({ head, endedAt: performance.now(), endedByClose: byClose });
  }

  #closedWhileBusy(): void {
    const ex = this.#exchange;
    if (ex?.head?.bodyUntilClose === true) this.#complete(ex, ex.head, true);
    else this.#fail(new ProbeResponseError('ERR_PROBE_CLOSED_EARLY', `the server closed the connection (${this.#seen?.reason ?? 'shutdown'}) before a whole response`));
  }

  #fail(error: ProbeResponseError): void {
    const ex = this.#exchange;
    this.#exchange = undefined;
    if (this.state === 'busy') this.#set.table.move(this, 'idle');
    ex?.reject(error);
  }
}

/** The connections of one measurement. */
export class ConnectionSet {
  readonly table = new StateTable<ConnState, ProbeConnection>('probe connection', {
    busy: ['idle', 'closed'],
    idle: ['busy', 'closed'],
    closed: [],
  }, ['busy', 'idle']);

  /** Wrap an opened socket. */
  add(socket: Socket): ProbeConnection {
    return new ProbeConnection(this, socket);
  }

  /** Destroy every connection still open. */
  close(): void {
    for (const conn of this.table.all()) conn.destroy();
  }
}
