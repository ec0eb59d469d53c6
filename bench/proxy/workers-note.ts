/**
 * What `workers: N` should give on a machine with cores to spare, for the workers table: how the
 * workers share the listening socket and what each holds (checked against src/cli/commands/proxy.ts
 * and src/proxy/proxy.ts; the 2-core bench machine cannot show it).
 */
export const WORKERS_ON_A_LARGER_MACHINE = [
  '**On a larger machine.** `workers: N` forks N processes with `node:cluster`, whose Linux default is round-robin: the primary process accepts every connection and passes it to the workers in turn over IPC; the workers never accept themselves (there is no SO_REUSEPORT-style distribution by the kernel; Node 20\'s `net` has no `reusePort`). Expect keep-alive loads (S1, S3, S6), where connections are few and long-lived, to scale close to linearly with workers on free cores until the backend or the load generator is the limit, since after the accept the primary has nothing to do with a connection. Expect connection-heavy loads (S2, S7) to scale less: every new connection costs one accept and one IPC message in the primary, a single process on a single core, which caps the rate of new connections whatever N is.',
  'Workers share nothing. Each has its own upstream pools, so upstream connections grow with N (up to N x `maxIdlePerEndpoint` idle per endpoint, and S5\'s figure per worker); its own health checks; its own upstream TLS session cache; and, for an `https` listener, its own session ticket keys, which never leave the process: with round-robin a returning client lands on the worker that issued its ticket about 1 time in N, so TLS resumption (S7) falls to about 1/N of handshakes and the rest are full handshakes.',
].join('\n\n');
