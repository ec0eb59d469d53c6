/**
 * The idle client connections of a listener, least recently idle first: the eviction order of
 * `maxConnections` (Go's idle LRU, HAProxy's intrusive lists). Intrusive (the links live on the
 * connection), so a connection going busy and idle again costs two pointer updates per request
 * and no allocation, where a Set's delete-then-add leaves holes that its table must rehash away.
 */
export interface IdleLinks<T> {
  idlePrev: T | null;
  idleNext: T | null;
}

export class IdleList<T extends IdleLinks<T>> {
  #first: T | null = null;
  #last: T | null = null;
  size = 0;

  has(node: T): boolean {
    return node.idlePrev !== null || this.#first === node;
  }

  /** Append as the most recently idle (moving it when already listed). */
  push(node: T): void {
    if (this.has(node)) this.delete(node);
    node.idlePrev = this.#last;
    node.idleNext = null;
    if (this.#last === null) this.#first = node;
    else this.#last.idleNext = node;
    this.#last = node;
    this.size += 1;
  }

  delete(node: T): void {
    if (!this.has(node)) return;
    if (node.idlePrev === null) this.#first = node.idleNext;
    else node.idlePrev.idleNext = node.idleNext;
    if (node.idleNext === null) this.#last = node.idlePrev;
    else node.idleNext.idlePrev = node.idlePrev;
    node.idlePrev = null;
    node.idleNext = null;
    this.size -= 1;
  }

  /** The least recently idle, or undefined. */
  first(): T | undefined {
    return this.#first ?? undefined;
  }
}
