// The lease of docs/lease.md on Redis, shared by every process that reaches it: acquire, keep
// alive, fence, release. Run: REDIS_URL=redis://127.0.0.1:6379 node examples/lease-redis.mjs
import { RedisLeaseStore, LeaseKeeper, Fence } from 'lifeline-keepalive/lease';

const store = await RedisLeaseStore.connect({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: 'example:{lease}:', // keep one {hash tag}: every key shares a cluster slot
  sweepIntervalMs: 100, // how late an 'expired' event may be
});
const keeper = await LeaseKeeper.acquire(store, 10_000, { id: 'nightly-report', holder: 'worker-7' });
keeper.on('lost', (reason) => console.error('lease lost:', reason)); // 'deadline' | 'not-found' | 'token-mismatch'
const fence = new Fence('reports');
fence.admit(keeper.token); // what the protected resource checks: a stale token is refused
console.log(`holding ${keeper.id} with token ${keeper.token} on Redis`);
await keeper.release(); // revokes with its token; a successor's lease is never touched
await store.close();
