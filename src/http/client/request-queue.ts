/**
 * RequestQueue: requests waiting for a socket, kept in the PoolTable's per-key queues and mirrored
 * in Node's `agent.requests` dictionary (which code inspecting an agent reads).
 *
 * Why cancel: a ClientRequest that is aborted (`req.abort()`, an AbortSignal) or destroyed while
 * it waits has no socket to report through, so Node only notices when the agent finally hands it
 * one, and by then the agent may have dialled a connection for a request nobody wants any more.
 * Here the request's `destroy` is wrapped while it waits (an own property, put back when it
 * leaves the queue): a destroyed waiter leaves the queue at once, Node finishes it as it would on
 * getting a socket ('error' unless it was aborted, then 'close'), and no socket is dialled for it
 * (Go's `wantConn.cancel`).
 */
import type { ClientRequest } from 'node:http';
import type { AgentInternals, ConnectOptions } from './node-internals.js';
import { removeFrom, requestInternals } from './node-internals.js';

type Destroy = (error?: Error) => ClientRequest;

/** One waiting request. */
export interface QueuedRequest {
  readonly key: string;
  readonly req: ClientRequest;
  readonly options: ConnectOptions;
  /** The request's own `destroy`, put back when it leaves the queue. */
  readonly destroy: Destroy;
}

/** The PoolTable's waiter queues (by key, arrival order). */
export interface WaiterQueues<W> {
  enqueue(waiter: W): void;
  nextWaiter(key: string): W | undefined;
  cancel(waiter: W): boolean;
  drainWaiters(): W[];
}

export class RequestQueue {
  readonly #agent: AgentInternals;
  readonly #table: WaiterQueues<QueuedRequest>;

  constructor(agent: AgentInternals, table: WaiterQueues<QueuedRequest>) {
    this.#agent = agent;
    this.#table = table;
  }

  /** Queue `req` for a socket of `key`. */
  add(req: ClientRequest, key: string, options: ConnectOptions): void {
    const target = req as unknown as { destroy: Destroy };
    const waiter: QueuedRequest = { key, req, options, destroy: target.destroy };
    target.destroy = (error?: Error): ClientRequest => {
      const out = waiter.destroy.call(req, error);
      this.#cancel(waiter);
      return out;
    };
    this.#table.enqueue(waiter);
    (this.#agent.requests[key] ??= []).push(req);
  }

  /** The oldest waiter of `key`, taken out of the queue. */
  next(key: string): QueuedRequest | undefined {
    const waiter = this.#table.nextWaiter(key);
    if (waiter !== undefined) this.#leave(waiter);
    return waiter;
  }

  /** Every waiter, taken out of the queues. */
  drain(): QueuedRequest[] {
    const all = this.#table.drainWaiters();
    for (const waiter of all) this.#leave(waiter);
    return all;
  }

  #cancel(waiter: QueuedRequest): void {
    if (!this.#table.cancel(waiter)) return;
    this.#leave(waiter);
    // Node ends a destroyed request when it is given a socket; with none coming, give it none now.
    requestInternals(waiter.req).onSocket(null);
  }

  #leave(waiter: QueuedRequest): void {
    // Assigned back rather than deleted: deleting an own property would push the request object
    // into V8's slow dictionary mode.
    (waiter.req as unknown as { destroy: Destroy }).destroy = waiter.destroy;
    removeFrom(this.#agent.requests, waiter.key, waiter.req);
  }
}
