/**
 * Destinations (`host:port`) as the tunnel carries them, and the text forms users type.
 *
 * An OPEN frame names its destination the way SOCKS5 does (RFC 1928): an address type (1 IPv4,
 * 3 domain name, 4 IPv6), the address, and a port. A domain name travels as a name and is resolved
 * on the server, so the client's DNS never sees it (curl --socks5-hostname). Names are checked
 * (letters, digits, `-`, `_`, `.`, 1..253 bytes) before any lookup, so junk never reaches DNS.
 */
import { isIP } from 'node:net';
import { InvalidOptionError } from '../core/errors.js';
import { TunnelProtocolError } from './errors.js';
import { FrameType, HEADER_BYTES, encodeFrame } from './frame.js';

export type DestinationKind = 'ipv4' | 'ipv6' | 'domain';

export interface Destination {
  kind: DestinationKind;
  /** IP literal (IPv6 without brackets) or a domain name. */
  host: string;
  port: number;
}

const NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** True for a syntactically valid host name. */
export function isHostName(text: string): boolean {
  return NAME.test(text);
}

/** Build a destination from host and port, classifying the host. Throws InvalidOptionError. */
export function destination(host: string, port: number, option = 'destination'): Destination {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InvalidOptionError(option, `${option} port must be an integer from 1 to 65535; got ${port}`);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const ip = isIP(bare);
  if (ip === 4) return { kind: 'ipv4', host: bare, port };
  if (ip === 6) return { kind: 'ipv6', host: bare, port };
  if (!isHostName(bare)) throw new InvalidOptionError(option, `${option} host must be an IP address or a host name; got ${JSON.stringify(host)}`);
  return { kind: 'domain', host: bare, port };
}

/** `host:port` (IPv6 in brackets) for messages and logs. */
export function formatDestination(d: { host: string; port: number }): string {
  return d.host.includes(':') ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`;
}

/**
 * Parse `HOST:PORT`, `[IPV6]:PORT` or `:PORT`/`PORT` (host `defaultHost`).
 * @example parseHostPort('--listen', '0.0.0.0:7000') // { host: '0.0.0.0', port: 7000 }
 */
export function parseHostPort(option: string, text: string, defaultHost?: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  const m6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (m6 !== null) {
    host = m6[1] as string;
    portText = m6[2] as string;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      if (defaultHost === undefined || !/^\d+$/.test(text)) throw new InvalidOptionError(option, `${option} must be HOST:PORT; got ${JSON.stringify(text)}`);
      host = defaultHost;
      portText = text;
    } else {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host === '') {
        if (defaultHost === undefined) throw new InvalidOptionError(option, `${option} must be HOST:PORT; got ${JSON.stringify(text)}`);
        host = defaultHost;
      }
      if (host.includes(':')) throw new InvalidOptionError(option, `${option}: put an IPv6 address in brackets, [::1]:PORT; got ${JSON.stringify(text)}`);
    }
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) throw new InvalidOptionError(option, `${option} port must be 0..65535; got ${JSON.stringify(text)}`);
  return { host, port };
}

/** A static forward: listen locally, connect through the tunnel to `target`. */
export interface ForwardSpec {
  listenHost: string;
  listenPort: number;
  target: Destination;
}

/**
 * Parse ssh's -L syntax: `[BIND:]PORT:HOST:HOSTPORT` (IPv6 in brackets). Bind defaults to 127.0.0.1.
 * @example parseForwardSpec('127.0.0.1:15432:db.internal:5432')
 */
export function parseForwardSpec(option: string, text: string): ForwardSpec {
  const parts: string[] = [];
  const re = /\[[^\]]*\]|[^:]+/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) parts.push(m[0]);
  if (parts.length !== 3 && parts.length !== 4) throw new InvalidOptionError(option, `${option} must be [BIND:]PORT:HOST:HOSTPORT; got ${JSON.stringify(text)}`);
  const [bind, port, host, hostPort] = parts.length === 4 ? (parts as [string, string, string, string]) : (['127.0.0.1', ...parts] as [string, string, string, string]);
  const listenPort = Number(port);
  if (!/^\d+$/.test(port) || listenPort > 65_535) throw new InvalidOptionError(option, `${option} local port must be 0..65535; got ${JSON.stringify(text)}`);
  if (!/^\d+$/.test(hostPort)) throw new InvalidOptionError(option, `${option} target port must be a number; got ${JSON.stringify(text)}`);
  const listenHost = bind.startsWith('[') ? bind.slice(1, -1) : bind;
  return { listenHost, listenPort, target: destination(host, Number(hostPort), option) };
}

/** OPEN payload: u32 receive window, u8 address type, address, u16 port. */
export function encodeOpen(streamId: number, windowBytes: number, d: Destination): Buffer {
  let addr: Buffer;
  let atyp: number;
  if (d.kind === 'ipv4') {
    atyp = 1;
    addr = Buffer.from(d.host.split('.').map(Number));
  } else if (d.kind === 'ipv6') {
    atyp = 4;
    addr = ipv6Bytes(d.host);
  } else {
    atyp = 3;
    const name = Buffer.from(d.host, 'latin1');
    addr = Buffer.concat([Buffer.from([name.length]), name]);
  }
  const p = Buffer.alloc(4 + 1 + addr.length + 2);
  p.writeUInt32BE(windowBytes >>> 0, 0);
  p[4] = atyp;
  addr.copy(p, 5);
  p.writeUInt16BE(d.port, 5 + addr.length);
  return encodeFrame(FrameType.OPEN, streamId, p);
}

export function decodeOpen(p: Buffer): { windowBytes: number; destination: Destination } {
  if (p.length < 8) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN too short');
  const windowBytes = p.readUInt32BE(0);
  const atyp = p[4];
  let host: string;
  let end: number;
  let kind: DestinationKind;
  if (atyp === 1) {
    end = 9;
    if (p.length !== end + 2) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN IPv4 length');
    host = [...p.subarray(5, 9)].join('.');
    kind = 'ipv4';
  } else if (atyp === 4) {
    end = 21;
    if (p.length !== end + 2) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN IPv6 length');
    host = ipv6Text(p.subarray(5, 21));
    kind = 'ipv6';
  } else if (atyp === 3) {
    const n = p[5] as number;
    end = 6 + n;
    if (n === 0 || p.length !== end + 2) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN name length');
    host = p.toString('latin1', 6, end);
    kind = 'domain';
    if (!isHostName(host)) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN host name is not a valid name');
  } else {
    throw new TunnelProtocolError('ERR_TUNNEL_FRAME', `OPEN address type ${String(atyp)}`);
  }
  const port = p.readUInt16BE(end);
  if (port === 0) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN port 0');
  if (windowBytes === 0) throw new TunnelProtocolError('ERR_TUNNEL_FRAME', 'OPEN window 0');
  return { windowBytes, destination: { kind, host, port } };
}

/** 16 bytes of an IPv6 literal. */
export function ipv6Bytes(text: string): Buffer {
  let head = text;
  let v4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    v4 = text.slice(lastColon + 1).split('.').map(Number);
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::') as [string, string | undefined];
  const l = left === '' ? [] : left.split(':');
  const r = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (v4.length === 4) Buffer.from(v4).copy(out, 12);
  return out;
}

/** Canonical-ish text of 16 IPv6 bytes (zeros compressed once). */
export function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  const text = groups.join(':');
  const m = /(^|:)0(:0)+(:|$)/.exec(text);
  return m === null ? text : `${text.slice(0, m.index)}::${text.slice(m.index + m[0].length)}`;
}

/** Where the payload of an encoded frame starts (for tests). */
export const PAYLOAD_OFFSET = HEADER_BYTES;
