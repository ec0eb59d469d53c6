/**
 * A `resolver` entry (nginx's `resolver address[:port]`): a DNS server given by IP address,
 * optionally with a port, in the forms Node's `Resolver.setServers` accepts. Names are refused:
 * resolving the resolver would need a resolver.
 */
import { isIP } from 'node:net';

/** A server entry of `resolver`: an IP, optionally with a port; what `setServers` accepts. */
export function resolverProblem(entry: unknown): string | undefined {
  if (typeof entry !== 'string') return 'not a string';
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
  const ip = m?.[1] ?? entry;
  if (isIP(ip) === 0) return `"${entry}" is not an IP address with an optional port (a resolver is given by address, as nginx's is)`;
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (port < 1 || port > 65535) return `port ${port} of "${entry}" is out of range 1 to 65535`;
  return undefined;
}

