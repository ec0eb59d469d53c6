/**
 * The server's destination allowlist: which `host:port` a client may reach through the tunnel.
 *
 * Rule syntax, one rule per string, `HOSTS:PORTS`:
 *   - HOSTS: a host name (`db.internal`, case-insensitive), a wildcard (`*.internal` matches any
 *     name below `internal`, not `internal` itself; `*` any name), an IP (`10.0.0.5`, `[::1]`),
 *     or a CIDR (`10.0.0.0/8`, `[fd00::/8]`).
 *   - PORTS: `*`, a port (`5432`), a range (`8000-8999`), or a comma list of those.
 *
 * Decision: an IP destination is allowed when an IP/CIDR rule contains it and its ports match. A
 * name is allowed when a name rule matches it; failing that, and only when some IP/CIDR rule has a
 * matching port, the name is resolved on the server and allowed if its first address is inside
 * such a rule, and then that address is dialled (not a fresh lookup, so DNS cannot change the
 * answer between check and connect). A name pattern does not cover the addresses it resolves to:
 * `localhost:*` does not allow `127.0.0.1`.
 */
import { BlockList, isIP } from 'node:net';
import { InvalidOptionError } from '../core/errors.js';
import type { Destination } from './address.js';
import { isHostName } from './address.js';

interface PortRange {
  from: number;
  to: number;
}

interface Rule {
  text: string;
  /** Lower-case name, `*.suffix` or `*`, for name rules. */
  name: string | undefined;
  /** For IP and CIDR rules. */
  block: BlockList | undefined;
  ports: PortRange[];
}

/** What the allowlist decided, and the address to dial when it resolved a name. */
export interface AllowDecision {
  allowed: boolean;
  /** Set when the name was resolved to check a CIDR rule: dial this address. */
  address?: string;
  /** The rule that allowed it (for logs). */
  rule?: string;
}

export type Lookup = (host: string) => Promise<string>;

function parsePorts(option: string, rule: string, text: string): PortRange[] {
  if (text === '*') return [{ from: 1, to: 65_535 }];
  return text.split(',').map((part) => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (m === null || from < 1 || to > 65_535 || from > to) throw new InvalidOptionError(option, `${option} rule ${JSON.stringify(rule)}: ports must be *, N, N-M or a comma list; got ${JSON.stringify(text)}`);
    return { from, to };
  });
}

function parseRule(option: string, text: string): Rule {
  let hosts: string;
  let ports: string;
  const bracket = /^\[([^\]]+)\]:(.+)$/.exec(text);
  if (bracket !== null) {
    hosts = bracket[1] as string;
    ports = bracket[2] as string;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) throw new InvalidOptionError(option, `${option} rule must be HOSTS:PORTS (e.g. *.internal:443, 10.0.0.0/8:*); got ${JSON.stringify(text)}`);
    hosts = text.slice(0, colon);
    ports = text.slice(colon + 1);
  }
  const portRanges = parsePorts(option, text, ports);
  const slash = hosts.indexOf('/');
  const ipPart = slash >= 0 ? hosts.slice(0, slash) : hosts;
  const family = isIP(ipPart);
  if (family !== 0) {
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const max = family === 4 ? 32 : 128;
    const prefix = slash >= 0 ? Number(hosts.slice(slash + 1)) : max;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash >= 0 && !/^\d+$/.test(hosts.slice(slash + 1)))) {
      throw new InvalidOptionError(option, `${option} rule ${JSON.stringify(text)}: prefix length must be 0..${max}`);
    }
    const block = new BlockList();
    block.addSubnet(ipPart, prefix, type);
    return { text, name: undefined, block, ports: portRanges };
  }
  const name = hosts.toLowerCase();
  const valid = name === '*' || (name.startsWith('*.') ? isHostName(name.slice(2)) : isHostName(name));
  if (!valid) throw new InvalidOptionError(option, `${option} rule ${JSON.stringify(text)}: hosts must be a name, *.suffix, *, an IP or a CIDR`);
  return { text, name, block: undefined, ports: portRanges };
}

function portMatches(rule: Rule, port: number): boolean {
  return rule.ports.some((r) => port >= r.from && port <= r.to);
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  return pattern === name;
}

function ipMatches(rule: Rule, ip: string): boolean {
  if (rule.block === undefined) return false;
  const family = isIP(ip);
  return family !== 0 && rule.block.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * @example
 *   const allow = Allowlist.parse(['*.internal:443', '10.0.0.0/8:5432', '127.0.0.1:8000-8999']);
 *   const d = await allow.decide({ kind: 'domain', host: 'db.internal', port: 443 }, lookup);
 */
export class Allowlist {
  readonly rules: readonly string[];
  /** Allow every destination: the server is an open relay. Only with an explicit --allow-any. */
  readonly any: boolean;
  readonly #rules: Rule[];

  private constructor(rules: Rule[], any: boolean) {
    this.#rules = rules;
    this.rules = rules.map((r) => r.text);
    this.any = any;
  }

  /** Parse rules; throws InvalidOptionError naming `option` and the bad rule. */
  static parse(rules: readonly string[], option = 'allow'): Allowlist {
    return new Allowlist(rules.map((r) => parseRule(option, r.trim())), false);
  }

  /** An allowlist that allows everything (an open relay). */
  static allowAny(): Allowlist {
    return new Allowlist([], true);
  }

  /** Decide without resolving: true/false, or undefined when only a lookup can tell. */
  decideSync(d: Destination): AllowDecision | undefined {
    if (this.any) return { allowed: true, rule: '*' };
    const host = d.host.toLowerCase();
    if (d.kind !== 'domain') {
      const rule = this.#rules.find((r) => portMatches(r, d.port) && ipMatches(r, host));
      return rule === undefined ? { allowed: false } : { allowed: true, rule: rule.text };
    }
    const byName = this.#rules.find((r) => r.name !== undefined && portMatches(r, d.port) && nameMatches(r.name, host));
    if (byName !== undefined) return { allowed: true, rule: byName.text };
    const cidrCould = this.#rules.some((r) => r.block !== undefined && portMatches(r, d.port));
    return cidrCould ? undefined : { allowed: false };
  }

  /** Decide, resolving a name on this (the server's) side only when a CIDR rule could allow it. */
  async decide(d: Destination, lookup: Lookup): Promise<AllowDecision> {
    const quick = this.decideSync(d);
    if (quick !== undefined) return quick;
    const address = await lookup(d.host);
    const rule = this.#rules.find((r) => portMatches(r, d.port) && ipMatches(r, address));
    return rule === undefined ? { allowed: false } : { allowed: true, address, rule: rule.text };
  }
}
