/**
 * `lifeline lease serve`: the lease HTTP API on its own, over a memory or a Redis store.
 * Parsing and output only; the work is in lifeline/lease.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { serveLeases } from '../../lease/lease-http-server.js';
import { MemoryLeaseStore } from '../../lease/memory-lease-store.js';
import { RedisLeaseStore } from '../../lease/redis-lease-store.js';
import type { LeaseStore } from '../../lease/lease-store.js';
import { InvalidOptionError } from '../../core/errors.js';
import { UsageError, parseFlags } from '../command.js';
import type { CliIo, Command } from '../command.js';

const HELP = `lifeline lease: leases with fencing tokens over HTTP

Usage:
  lifeline lease serve [options]

Options:
  --port N            port to listen on (default 8787; 0 picks one)
  --host ADDR         address to listen on (default 127.0.0.1)
  --redis URL         keep leases in Redis (redis://host:port/db); default: in memory
  --prefix TEXT       Redis key prefix (default 'lifeline:{lease}:')
  --token-file PATH   file holding the bearer token (else $LIFELINE_LEASE_TOKEN, else a
                      random one printed at start)
  --no-page-access    pages may not keep alive generated-id leases with the lease token alone
  --allow-origin O    Access-Control-Allow-Origin for pages on another origin
  --demo              serve /lifeline/demo (grants a lease to anyone who loads it)

API: POST /leases {ttlMs, id?, holder?, metadata?}; GET /leases/:id;
POST /leases/:id/keepalive {token}; DELETE /leases/:id {token};
POST /leases/:id/release {token}; GET /lifeline/page-keepalive.js.
Every call but the page ones needs 'Authorization: Bearer <token>'.
`;

export const leaseCommand: Command = {
  name: 'lease',
  summary: 'serve the lease API (memory or Redis store, fencing tokens, page keep-alive)',
  help: HELP,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub !== 'serve') throw new UsageError(sub === undefined ? "missing sub-command: 'serve'" : `unknown sub-command '${sub}'; known: serve`);
    const { values } = parseFlags({
      args: [...rest],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        redis: { type: 'string' },
        prefix: { type: 'string' },
        'token-file': { type: 'string' },
        'no-page-access': { type: 'boolean' },
        'allow-origin': { type: 'string' },
        demo: { type: 'boolean' },
      },
    });
    const port = values.port === undefined ? 8787 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be 0-65535; got '${values.port}'`);
    let bearerToken: string;
    if (values['token-file'] !== undefined) bearerToken = readFileSync(values['token-file'], 'utf8').trim();
    else if (process.env.LIFELINE_LEASE_TOKEN !== undefined && process.env.LIFELINE_LEASE_TOKEN !== '') bearerToken = process.env.LIFELINE_LEASE_TOKEN;
    else {
      bearerToken = randomBytes(24).toString('base64url');
      io.err(`lifeline lease: no token given; this run's bearer token is ${bearerToken}\n`);
    }
    if (bearerToken.length < 16) throw new UsageError('the bearer token must be at least 16 characters');

    let store: LeaseStore;
    if (values.redis !== undefined) {
      const redisOptions: ConstructorParameters<typeof RedisLeaseStore>[0] = { url: values.redis };
      if (values.prefix !== undefined) redisOptions.prefix = values.prefix;
      try {
        store = await RedisLeaseStore.connect(redisOptions);
      } catch (error) {
        if (error instanceof InvalidOptionError && error.option === 'url') throw new UsageError(`--redis must be redis://HOST[:PORT][/DB] or rediss://HOST[:PORT][/DB]; got '${values.redis}'`);
        throw error;
      }
    } else store = new MemoryLeaseStore();

    const options: Parameters<typeof serveLeases>[0] = { store, bearerToken, port, host: values.host ?? '127.0.0.1', pageAccess: values['no-page-access'] !== true, demo: values.demo ?? false };
    if (values['allow-origin'] !== undefined) options.allowOrigin = values['allow-origin'];
    const server = await serveLeases(options);
    io.out(`lifeline lease: serving ${server.url}/leases (${values.redis !== undefined ? 'Redis' : 'memory'} store)${values.demo === true ? `; demo at ${server.url}/lifeline/demo` : ''}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    await store.close();
    io.err('lifeline lease: stopped\n');
    return 0;
  },
};
