// @fastify/http-proxy 11 on fastify 5: forwards with @fastify/reply-from, which uses undici 7's
// pooled keep-alive client for http upstreams.
import { args, peerRequire } from './common.mjs';

const { port, upstream } = args();
const fastify = peerRequire('fastify')({ logger: false, keepAliveTimeout: 75_000, maxRequestsPerSocket: 0 });
fastify.register(peerRequire('@fastify/http-proxy'), { upstream });
await fastify.listen({ port, host: '127.0.0.1' });
process.stdout.write(`ready ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
