/**
 * One stream of a tunnel session: its state, its flow-control counters and what waits on either
 * side. Plain data; the Mux (mux.ts) owns every transition.
 */
import type { Socket } from 'node:net';
import type { WriteBatcher } from '../transport/write-batcher.js';
import type { Destination } from './address.js';

export type StreamState = 'opening' | 'open' | 'closed';

export class TunnelStream {
  readonly id: number;
  readonly destination: Destination;
  state: StreamState = 'opening';
  socket: Socket | undefined;
  /** DATA bytes we may still send (the peer's credit). */
  sendWindow = 0;
  /** DATA bytes the peer may still send us. */
  recvCredit: number;
  /** Bytes written to the local socket and not yet credited back. */
  unacked = 0;
  queue: Buffer[] = [];
  queued = 0;
  /** The local socket's read side ended; FIN goes out once the queue is empty. */
  localEnded = false;
  localFin = false;
  remoteFin = false;
  localClosed = false;
  /** Bytes from the peer to the local socket, and from the local socket to the peer. */
  bytesIn = 0;
  bytesOut = 0;
  /** Timer-wheel id for the idle timeout, or -1. */
  idleId = -1;
  /** The local socket reads into the session's shared buffer (`Mux.readInto`). */
  sharedRead = false;
  /** DATA that arrived while the stream was opening (pipelined behind OPEN), for the socket. */
  early: Buffer[] = [];
  /** Credit needed before the local socket may read: with a shared buffer a whole read must fit,
   * so nothing read ever has to be copied to wait for credit; else 0. */
  minReadCredit = 0;
  /** Writes to the local socket, batched per turn (set by `attach`). */
  out: WriteBatcher | undefined;

  constructor(id: number, destination: Destination, recvWindow: number) {
    this.id = id;
    this.destination = destination;
    this.recvCredit = recvWindow;
  }
}
