/**
 * A caller's wait for an upstream connection (HTTP/1) or stream slot (HTTP/2) that was not
 * answered at once (Go's wantConn): `cancel()` it when the caller goes away, and the pool drops
 * it from its queue, so nothing is dialled or handed to a caller that is gone.
 */
export class PoolWant<W> {
  cancelled = false;
  constructor(
    readonly waiter: W,
    /** Never a pooled connection: a retry after this endpoint failed. */
    readonly fresh: boolean,
    private readonly pool: { forget(want: PoolWant<W>): void },
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.pool.forget(this);
  }
}
