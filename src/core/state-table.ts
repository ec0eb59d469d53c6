/**
 * A lifecycle as an explicit state machine over many items, with one list per state (Envoy's
 * connection pools keep their clients this way): every move goes through `move()`, which rejects
 * a move the transition table does not allow, and keeps the item on its state's list.
 *
 * Why intrusive lists: the items (connections) carry their own `prev`/`next` links, so a move is
 * a few pointer writes and no allocation, and an idle list is an LRU for free: `move()` appends at
 * the most recently used end (`tail`); the least recently used is `head`.
 *
 * Invariants
 * - An item is on its state's list, and on none in a state that keeps no list (a terminal one).
 * - `item.state` is written only here.
 */
import { LifelineError } from './errors.js';

/** What an item must carry: its state and the links of the list it is on. */
export interface StateItem<S extends string> {
  state: S;
  prev: this | undefined;
  next: this | undefined;
}

/** A move the transition table does not allow: a bug in the caller, never a runtime condition. */
export class IllegalTransitionError extends LifelineError {
  constructor(what: string, from: string, to: string) {
    super('ERR_ILLEGAL_TRANSITION', `${what}: illegal move from '${from}' to '${to}'`);
  }
}

/** An intrusive doubly linked list, oldest first. */
export class StateList<T extends StateItem<string>> {
  head: T | undefined;
  tail: T | undefined;
  size = 0;

  append(item: T): void {
    item.prev = this.tail;
    item.next = undefined;
    if (this.tail === undefined) this.head = item;
    else this.tail.next = item;
    this.tail = item;
    this.size += 1;
  }

  unlink(item: T): void {
    if (item.prev === undefined) this.head = item.next;
    else item.prev.next = item.next;
    if (item.next === undefined) this.tail = item.prev;
    else item.next.prev = item.prev;
    item.prev = item.next = undefined;
    this.size -= 1;
  }

  /** Oldest first; an item may be moved or removed while iterating. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let item = this.head; item !== undefined; ) {
      const next = item.next;
      yield item;
      item = next;
    }
  }
}

/**
 * @example
 *   type S = 'connecting' | 'idle' | 'active' | 'closed';
 *   const table = new StateTable<S, Conn>('upstream connection', {
 *     connecting: ['active', 'closed'], idle: ['active', 'closed'], active: ['idle', 'closed'], closed: [],
 *   }, ['connecting', 'idle', 'active']);
 *   table.add(conn, 'connecting');
 *   table.move(conn, 'active');
 */
export class StateTable<S extends string, T extends StateItem<S>> {
  readonly #what: string;
  readonly #allowed: Map<S, ReadonlySet<S>>;
  readonly #lists = new Map<S, StateList<T>>();

  /**
   * @param what named in errors ("upstream connection")
   * @param transitions for each state, the states it may move to
   * @param listed the states that keep a list (a terminal state usually keeps none)
   */
  constructor(what: string, transitions: Readonly<Record<S, readonly S[]>>, listed: readonly S[]) {
    this.#what = what;
    this.#allowed = new Map();
    for (const from of Object.keys(transitions) as S[]) this.#allowed.set(from, new Set(transitions[from]));
    for (const state of listed) this.#lists.set(state, new StateList<T>());
  }

  /** The list of `state` (throws for a state that keeps none). */
  list(state: S): StateList<T> {
    const list = this.#lists.get(state);
    if (list === undefined) throw new LifelineError('ERR_ILLEGAL_TRANSITION', `${this.#what}: state '${state}' keeps no list`);
    return list;
  }

  /** How many items are in `state` (0 for a state that keeps no list). */
  count(state: S): number {
    return this.#lists.get(state)?.size ?? 0;
  }

  /** Items in every list. */
  get size(): number {
    let n = 0;
    for (const list of this.#lists.values()) n += list.size;
    return n;
  }

  /** Start tracking `item` in `state`. */
  add(item: T, state: S): void {
    item.state = state;
    this.#lists.get(state)?.append(item);
  }

  /**
   * Move `item` to `next`. Moving to the state it is in re-appends it (an idle item becomes the
   * most recently used) when that move is allowed, and is otherwise illegal like any other.
   */
  move(item: T, next: S): void {
    const from = item.state;
    if (this.#allowed.get(from)?.has(next) !== true) throw new IllegalTransitionError(this.#what, from, next);
    this.#lists.get(from)?.unlink(item);
    item.state = next;
    this.#lists.get(next)?.append(item);
  }

  /** Whether `item` may move to `next` now. */
  canMove(item: T, next: S): boolean {
    return this.#allowed.get(item.state)?.has(next) === true;
  }

  /** Every item, oldest first per list (a snapshot, safe to move or remove from). */
  all(): T[] {
    const out: T[] = [];
    for (const list of this.#lists.values()) for (const item of list) out.push(item);
    return out;
  }
}
