/**
 * Server-side TLS session ticket key rotation that keeps the previous key valid for one period.
 *
 * Why: a ticket key that never changes lets whoever steals it decrypt every recorded session
 * (no forward secrecy), so keys should rotate. But Node's public API holds ONE key
 * (`server.setTicketKeys()`, 48 bytes: 16 name, 16 HMAC, 16 AES), and its native ticket callback
 * declines any ticket whose name differs. Plain rotation therefore turns every outstanding ticket
 * into a full handshake at each rotation, a load spike exactly when the fleet reconnects.
 *
 * How: Node's native SecureContext can hand ticket handling to JavaScript:
 * `context.enableTicketKeyCallback()` plus `context.onticketkeycallback(name, iv, encrypt)`, which
 * returns `[result, hmacKey, aesKey, newName?, newIv?]` (result 1: ok, 2: ok and issue a fresh
 * ticket, 0: unknown key, full handshake). OpenSSL calls it for TLS 1.2 tickets and TLS 1.3 PSK
 * tickets alike, synchronously, before resumption is decided. Node's own test suite drives it
 * (test/parallel/test-https-resume-after-renew.js). With it we encrypt under the current key and
 * decrypt under the current or the previous one, answering 2 (renew) for both: for the previous key
 * so the client gets a ticket under the current key and stays resumable across further rotations,
 * and for the current key because OpenSSL issues a TLS 1.3 ticket on a resumed connection only
 * when asked to renew, and clients that use a ticket once need a new one each time.
 *
 * Why not the alternative of peeking at the ClientHello and swapping `server._sharedCreds` per
 * connection: that also leans on private fields, and adds a parser for untrusted bytes, a buffer
 * and timer per connection, and a dependence on TLSSocket replaying unshifted bytes. The callback
 * is one synchronous hook with no parsing and no per-connection state.
 *
 * Fragility: `_sharedCreds.context` and `onticketkeycallback` are private. They are
 * feature-detected; when missing (a future Node), or with `strategy: 'single-key'`, rotation
 * falls back to `server.setTicketKeys()` and the previous key dies at each rotation (warned about
 * once). `server.setSecureContext()` replaces the context (and, in Node 20, resets the ticket
 * keys); a prepended 'connection' listener notices and re-attaches before the next handshake.
 * The callback must never throw: an exception there makes Node fail the handshake.
 *
 * Invariants: a key is current for `rotateEveryMs`, then previous for `rotateEveryMs`, then gone,
 * so a ticket resumes for between one and two periods after it was issued. Keys are random
 * 48-byte values that never leave the process. One rotation object per SecureContext.
 */
import { randomBytes } from 'node:crypto';
import { Server as TlsServer } from 'node:tls';
import type { Clock, TimerHandle } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { InvalidOptionError, LifelineError } from '../core/errors.js';
import { enumOption, functionOption, integerOption, objectOption, rejectUnknown } from '../core/options.js';

/** Options for {@link TicketKeyRotation}. */
export interface TicketKeyRotationOptions {
  /** How long a key is current (and then, previous). 0: never rotate on a timer, only by `rotate()`. Default 3,600,000 (1 h). */
  rotateEveryMs?: number;
  /** Source of time and timers. Default the system clock. */
  clock?: Clock;
  /** `auto`: keep the previous key valid when Node allows it, else fall back with a warning. `single-key`: plain `setTicketKeys` rotation. Default `auto`. */
  strategy?: 'auto' | 'single-key';
  /** Receives the one warning about falling back. Default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** Counters, each only ever increasing. The ticket counters stay 0 in `single-key` mode. */
export interface TicketKeyRotationStats {
  rotations: number;
  /** Tickets encrypted (issued) under the current key. */
  ticketsIssued: number;
  /** Tickets presented whose key name was the current key. */
  ticketsCurrentKey: number;
  /** Tickets presented whose key name was the previous key (re-issued under the current one). */
  ticketsPreviousKey: number;
  /** Tickets presented under an unknown or retired key (full handshake). */
  ticketsUnknownKey: number;
  /** Times the hook was re-installed after `server.setSecureContext()` replaced the context. */
  reattached: number;
}

/** Which mechanism is in use: both keys honoured, or Node's single key. */
export type TicketKeyMode = 'current-and-previous' | 'single-key';

interface TicketKey {
  /** The 48 bytes in `setTicketKeys` layout. */
  bytes: Buffer;
  name: Buffer;
  hmac: Buffer;
  aes: Buffer;
}

type TicketKeyResult = [number, Buffer, Buffer] | [number, Buffer, Buffer, Buffer, Buffer];

/** The private surface of Node's native SecureContext that this module uses. */
interface NativeContext {
  enableTicketKeyCallback(): void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => TicketKeyResult;
  [kOwner]?: TicketKeyRotation;
}

const WHERE = 'TicketKeyRotation';
const kOwner = Symbol('lifeline.ticketKeyRotation');
// OpenSSL reads the key buffers even for "unknown key", and Node aborts on a non-buffer there.
const UNKNOWN_KEY: TicketKeyResult = [0, Buffer.alloc(16), Buffer.alloc(16)];

function newKey(): TicketKey {
  const bytes = randomBytes(48);
  return { bytes, name: bytes.subarray(0, 16), hmac: bytes.subarray(16, 32), aes: bytes.subarray(32, 48) };
}

/** The server's native context if it has the hook, else undefined (feature detection). */
function nativeContext(server: TlsServer): NativeContext | undefined {
  const creds: unknown = Reflect.get(server, '_sharedCreds');
  if (typeof creds !== 'object' || creds === null) return undefined;
  const context: unknown = Reflect.get(creds, 'context');
  if (typeof context !== 'object' || context === null) return undefined;
  return typeof Reflect.get(context, 'enableTicketKeyCallback') === 'function' ? (context as NativeContext) : undefined;
}

function clockOption(options: Readonly<Record<string, unknown>>): Clock {
  const value = objectOption(WHERE, options, 'clock');
  if (value === undefined) return systemClock;
  if (typeof value.now !== 'function' || typeof value.setTimer !== 'function') {
    throw new InvalidOptionError(`${WHERE}.clock`, `${WHERE}.clock must have now() and setTimer(); got an object without them`);
  }
  return value as unknown as Clock;
}

/**
 * Rotates a tls.Server's (or https.Server's) session ticket key every `rotateEveryMs`, keeping
 * the previous key valid for one more period so resumption survives a rotation.
 *
 * @example
 *   const server = https.createServer({ key, cert }, handler);
 *   const rotation = new TicketKeyRotation(server, { rotateEveryMs: 6 * 3_600_000 });
 *   // rotation stops by itself when the server closes; or call rotation.close()
 */
export class TicketKeyRotation {
  readonly rotateEveryMs: number;
  readonly #server: TlsServer;
  readonly #clock: Clock;
  readonly #stats: TicketKeyRotationStats = {
    rotations: 0, ticketsIssued: 0, ticketsCurrentKey: 0, ticketsPreviousKey: 0, ticketsUnknownKey: 0, reattached: 0,
  };
  readonly #mode: TicketKeyMode;
  #context: NativeContext | undefined;
  #current = newKey();
  #previous: TicketKey | undefined;
  #timer: TimerHandle | undefined;
  #nextRotationAt = Infinity;
  #closed = false;

  constructor(server: TlsServer, options?: TicketKeyRotationOptions) {
    if (!(server instanceof TlsServer)) {
      throw new InvalidOptionError('server', `${WHERE} needs a tls.Server or https.Server as its first argument`);
    }
    const opts = rejectUnknown(WHERE, options, ['rotateEveryMs', 'clock', 'strategy', 'onWarning']);
    // setTimeout's limit: a longer delay would fire after 1 ms.
    this.rotateEveryMs = integerOption(WHERE, opts, 'rotateEveryMs', 3_600_000, { min: 0, max: 2_147_483_647, note: '(0: only rotate())' });
    this.#clock = clockOption(opts);
    const strategy = enumOption(WHERE, opts, 'strategy', 'auto', ['auto', 'single-key'] as const);
    const onWarning = functionOption<(message: string) => void>(WHERE, opts, 'onWarning')
      ?? ((message: string) => process.emitWarning(message, { code: 'LIFELINE_TICKET_KEYS_SINGLE' }));
    this.#server = server;

    const context = strategy === 'auto' ? nativeContext(server) : undefined;
    const owner = context?.[kOwner];
    if (owner !== undefined && !owner.#closed) {
      throw new LifelineError('ERR_TICKET_KEYS_IN_USE', `${WHERE}: this server's SecureContext already has an open rotation`);
    }
    this.#mode = context === undefined ? 'single-key' : 'current-and-previous';
    if (context === undefined && strategy === 'auto') {
      onWarning(`${WHERE}: this Node version lacks the ticket key hook; previous ticket keys stop working at each rotation (clients do a full handshake)`);
    }
    if (context !== undefined) {
      this.#attach(context);
      server.prependListener('connection', this.#checkContext);
    }
    server.setTicketKeys(this.#current.bytes);
    server.once('close', this.#onServerClose);
    this.#arm();
  }

  /** `current-and-previous` when the previous key stays valid, else `single-key`. */
  get mode(): TicketKeyMode {
    return this.#mode;
  }

  /** Monotonic time (clock ms) of the next timed rotation; Infinity when none is scheduled. */
  get nextRotationAt(): number {
    return this.#nextRotationAt;
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<TicketKeyRotationStats> {
    return { ...this.#stats };
  }

  /**
   * Rotate now: the current key becomes the previous one, the previous one is forgotten, and the
   * timer restarts so the new key is current for a full `rotateEveryMs`.
   * @example rotation.rotate(); // e.g. after a suspected key leak (call twice to retire both keys)
   */
  rotate(): void {
    this.#previous = this.#current;
    this.#current = newKey();
    this.#stats.rotations++;
    // In two-key mode this only keeps server.getTicketKeys() truthful; the hook decides.
    this.#server.setTicketKeys(this.#current.bytes);
    if (!this.#closed) this.#arm();
  }

  /**
   * Stop rotating. The keys in place stay valid (the hook stays installed), so open clients keep
   * resuming; the server's own close also calls this.
   * @example server.close(); rotation.close();
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#nextRotationAt = Infinity;
    this.#server.removeListener('connection', this.#checkContext);
    this.#server.removeListener('close', this.#onServerClose);
  }

  #arm(): void {
    this.#timer?.cancel();
    if (this.rotateEveryMs === 0) return;
    this.#nextRotationAt = this.#clock.now() + this.rotateEveryMs;
    this.#timer = this.#clock.setTimer(() => this.rotate(), this.rotateEveryMs);
  }

  #attach(context: NativeContext): void {
    context.enableTicketKeyCallback();
    context.onticketkeycallback = this.#onTicketKey;
    context[kOwner] = this;
    this.#context = context;
  }

  /** Runs before Node's TLS 'connection' listener: re-attach if setSecureContext() swapped the context. */
  readonly #checkContext = (): void => {
    const context = nativeContext(this.#server);
    if (context === undefined || context === this.#context) return;
    this.#attach(context);
    this.#server.setTicketKeys(this.#current.bytes);
    this.#stats.reattached++;
  };

  readonly #onServerClose = (): void => {
    this.close();
  };

  /** Called by OpenSSL (through Node) for every ticket issued or presented. Must not throw. */
  readonly #onTicketKey = (name: Buffer, _iv: Buffer, encrypt: boolean): TicketKeyResult => {
    const current = this.#current;
    if (encrypt) {
      this.#stats.ticketsIssued++;
      return [1, current.hmac, current.aes, current.name, randomBytes(16)];
    }
    if (name.equals(current.name)) {
      this.#stats.ticketsCurrentKey++;
      // 2 (renew), not 1: on a TLS 1.3 resumption OpenSSL sends the client a new ticket only when
      // asked to renew, and clients that use each ticket once (browsers, OpenSSL's own) would
      // otherwise have none left and make every other handshake a full one. nginx renews the
      // same way for TLS 1.3. For TLS 1.2 it costs one NewSessionTicket message per resumption.
      return [2, current.hmac, current.aes];
    }
    const previous = this.#previous;
    if (previous !== undefined && name.equals(previous.name)) {
      this.#stats.ticketsPreviousKey++;
      return [2, previous.hmac, previous.aes];
    }
    this.#stats.ticketsUnknownKey++;
    return UNKNOWN_KEY;
  };
}
