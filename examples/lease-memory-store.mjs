// The in-memory lease store used directly: sync calls, one timer for every expiry. Shown in
// docs/lease.md. Run: node examples/lease-memory-store.mjs
import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';
import { MemoryLeaseStore } from 'lifeline-keepalive/lease';

const store = new MemoryLeaseStore({ resolutionMs: 10 });
store.on('expired', (lease) => console.log(`${lease.id} (${lease.holder}) expired`));
const { id, token } = store.grantSync(30_000, { holder: 'session of ada' });
store.keepAliveSync(id, token); // one Map lookup and one typed-array write
console.log(`kept ${id} alive with token ${token}`);
const short = store.grantSync(50, { id: 'short', holder: 'a short one' });
// 'short' expires about 50 ms later. The store's timer is unref'd (it never keeps a process
// alive), so this waits with a timer of its own.
await Promise.race([once(store, 'expired'), setTimeout(1000)]);
console.log(`token ${short.token} is gone`);
await store.close();
