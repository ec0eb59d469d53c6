// A lease kept alive by its holder, with fencing. Shown in README.md. Uses the in-memory store;
// for one shared by many processes use RedisLeaseStore.connect({ url: 'redis://127.0.0.1:6379' }).
// Run: node examples/lease-memory.mjs
import { MemoryLeaseStore, LeaseKeeper, Fence } from 'lifeline-keepalive/lease';

const store = new MemoryLeaseStore(); // or await RedisLeaseStore.connect({ url: 'redis://127.0.0.1:6379' })
const keeper = await LeaseKeeper.acquire(store, 10_000, { id: 'nightly-report', holder: 'worker-7' });
keeper.on('lost', (reason) => console.error('lease lost:', reason)); // before the lease can have expired on the server
const fence = new Fence('reports');
fence.admit(keeper.token); // resources refuse stale fencing tokens
console.log(`holding ${keeper.id} with token ${keeper.token}`);
await keeper.release();
await store.close();
