/**
 * `lifeline tunnel server|client|keygen|status`: flags and output only; the work is in
 * src/tunnel. Bad flags (or bad values in a --config file) exit 2 naming the flag; runtime failures
 * exit 1. `server` and `client` run until SIGINT/SIGTERM and log one line per event (`--log json`
 * for JSON lines with a wall-clock `t` in ms).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InvalidOptionError } from '../../core/errors.js';
import { parseDurationMs, parseFlags, UsageError } from '../command.js';
import type { CliIo, Command } from '../command.js';
import { parseForwardSpec, parseHostPort } from '../../tunnel/address.js';
import { generateKeyPair } from '../../tunnel/keygen.js';
import { TunnelClient } from '../../tunnel/tunnel-client.js';
import type { TunnelClientOptions } from '../../tunnel/tunnel-client.js';
import { TunnelServer } from '../../tunnel/tunnel-server.js';
import type { TunnelServerOptions, TunnelServerStatus } from '../../tunnel/tunnel-server.js';
import { AdminServer } from '../../tunnel/admin-server.js';

const HELP = `lifeline tunnel: a TLS tunnel whose client pings to stay present

Usage:
  lifeline tunnel server --listen HOST:PORT --cert FILE --key FILE --token-file FILE --allow RULE...
  lifeline tunnel client --server HOST:PORT --token-file FILE --fingerprint SHA256 --socks 127.0.0.1:1080
  lifeline tunnel keygen [--out DIR] [--name HOST]...
  lifeline tunnel status --admin HOST:PORT [--json | --metrics]

Server flags:
  --listen HOST:PORT          where clients connect (required)
  --cert FILE, --key FILE     server certificate and key, PEM (required; see keygen)
  --token TOKEN               accepted token (repeatable; visible in ps: prefer --token-file
                              or LIFELINE_TUNNEL_TOKEN)
  --token-file FILE           accepted tokens, one a line
  --client-ca FILE            also accept clients with a certificate signed by this CA
  --allow RULE                allowed destinations, HOSTS:PORTS (repeatable): db.internal:5432,
                              *.internal:443, 10.0.0.0/8:*, [fd00::/8]:80-90, 127.0.0.1:8000,8080
  --allow-any                 allow every destination (an open relay; never the default)
  --transport tls|wss         TLS 1.3 over TCP, or WebSocket over TLS (default tls)
  --ws-path PATH              WebSocket path (default /lifeline-tunnel)
  --ping-interval DUR         interval announced to clients (default 25s)
  --client-timeout DUR        drop a client silent this long (default 75s)
  --min-ping-interval DUR     pings closer than this beyond a burst of 10 are limited
                              (default ping-interval / 25)
  --handshake-timeout DUR     accept to AUTH (default 10s)
  --connect-timeout DUR       resolve + connect to a destination (default 10s)
  --max-clients N             sessions at once (default 1000)
  --max-streams N             streams per client at once (default 1024)
  --stream-idle-timeout DUR   reset a stream idle this long; 0 = never (default 15m)
  --window BYTES              receive window per stream (default 1048576)
  --admin HOST:PORT           serve GET /status and /metrics (Prometheus) here

Client flags:
  --server HOST:PORT          the tunnel server (resolved again on every reconnect)
  --token TOKEN, --token-file FILE   the token (or LIFELINE_TUNNEL_TOKEN)
  --cert FILE, --key FILE     authenticate with a client certificate instead
  --fingerprint SHA256        pin the server certificate (printed by keygen)
  --ca FILE                   verify the server against this CA instead of pinning
  --servername NAME           TLS server name (default: the host of --server)
  --transport tls|wss, --ws-path PATH
  --name NAME                 shown in the server's status
  --socks HOST:PORT           SOCKS5 entry point (CONNECT; names resolved on the server)
  --http-proxy HOST:PORT      HTTP CONNECT entry point
  -L, --forward [BIND:]PORT:HOST:HOSTPORT   static forward (repeatable)
  --ping-interval DUR         ping after this much silence (default 25s)
  --ping-timeout DUR          reply timeout of each ping (default 10s)
  --missed-pings N            unanswered pings that make the server dead (default 3)
  --reconnect-min DUR, --reconnect-max DUR   backoff first ceiling and cap (200ms, 30s)
  --connect-timeout DUR       resolve + TCP + TLS (default 10s)
  --handshake-timeout DUR     TLS up to the server's WELCOME (default 10s)
  --open-timeout DUR          a local connection waits this long for a session (default 10s)
  --window BYTES              receive window per stream (default 1048576)
  --admin HOST:PORT           serve GET /status and /metrics here

Common: --config FILE (YAML or JSON: a 'server' or 'client' map whose keys are the flag names,
  e.g. ping-interval: 25s; flags win), --log text|json.
Durations: 1500ms, 30s, 5m, 1h (a bare number is ms).

keygen: --out DIR (writes tunnel.key and tunnel.crt; default .), --name HOST (repeatable;
  default localhost, 127.0.0.1), --days N (default 825). Prints the SHA-256 fingerprint.
status: --admin HOST:PORT of a server or client; --json prints the raw JSON, --metrics the
  Prometheus text.
`;

type Values = Record<string, string | boolean | string[] | undefined>;

const SERVER_FLAGS = {
  listen: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  token: { type: 'string', multiple: true },
  'token-file': { type: 'string' },
  'client-ca': { type: 'string' },
  allow: { type: 'string', multiple: true },
  'allow-any': { type: 'boolean' },
  transport: { type: 'string' },
  'ws-path': { type: 'string' },
  'ping-interval': { type: 'string' },
  'client-timeout': { type: 'string' },
  'min-ping-interval': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'max-clients': { type: 'string' },
  'max-streams': { type: 'string' },
  'stream-idle-timeout': { type: 'string' },
  window: { type: 'string' },
  admin: { type: 'string' },
  config: { type: 'string' },
  log: { type: 'string' },
} as const;

const CLIENT_FLAGS = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  fingerprint: { type: 'string' },
  ca: { type: 'string' },
  servername: { type: 'string' },
  transport: { type: 'string' },
  'ws-path': { type: 'string' },
  name: { type: 'string' },
  socks: { type: 'string' },
  'http-proxy': { type: 'string' },
  forward: { type: 'string', short: 'L', multiple: true },
  'ping-interval': { type: 'string' },
  'ping-timeout': { type: 'string' },
  'missed-pings': { type: 'string' },
  'reconnect-min': { type: 'string' },
  'reconnect-max': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'open-timeout': { type: 'string' },
  window: { type: 'string' },
  admin: { type: 'string' },
  config: { type: 'string' },
  log: { type: 'string' },
} as const;

/** Option name in the library -> flag, so a library InvalidOptionError can name the flag. */
const OPTION_FLAG: Record<string, string> = {
  allow: '--allow', allowAny: '--allow-any', tokens: '--token', clientCa: '--client-ca', transport: '--transport', pingIntervalMs: '--ping-interval',
  clientTimeoutMs: '--client-timeout', minPingIntervalMs: '--min-ping-interval', handshakeTimeoutMs: '--handshake-timeout', connectTimeoutMs: '--connect-timeout',
  maxClients: '--max-clients', maxStreamsPerClient: '--max-streams', streamIdleTimeoutMs: '--stream-idle-timeout', windowBytes: '--window', server: '--server',
  token: '--token', fingerprint: '--fingerprint', pingTimeoutMs: '--ping-timeout', missedPings: '--missed-pings', reconnectInitialMs: '--reconnect-min',
  reconnectMaxMs: '--reconnect-max', openTimeoutMs: '--open-timeout', cert: '--cert', key: '--key', port: '--listen',
};

const configSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]));

/** Merge a --config file's section under the flags given on the command line. */
function withConfig(values: Values, section: 'server' | 'client', known: Record<string, { type: string; multiple?: boolean }>): Values {
  const file = values.config;
  if (typeof file !== 'string') return values;
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config ${file}: ${(error as Error).message}`);
  }
  const sectionValue = (parsed as Record<string, unknown> | null)?.[section];
  if (sectionValue === undefined) throw new UsageError(`--config ${file}: no '${section}' section`);
  const result = configSchema.safeParse(sectionValue);
  if (!result.success) throw new UsageError(`--config ${file}: '${section}' must map flag names to strings, numbers, booleans or lists`);
  const merged: Values = {};
  for (const [key, raw] of Object.entries(result.data)) {
    const spec = known[key];
    if (spec === undefined || key === 'config') throw new UsageError(`--config ${file}: unknown key '${section}.${key}' (keys are the flag names, e.g. ping-interval)`);
    if (spec.type === 'boolean') {
      if (typeof raw !== 'boolean') throw new UsageError(`--config ${file}: '${section}.${key}' must be true or false`);
      merged[key] = raw;
    } else if (spec.multiple === true) {
      merged[key] = (Array.isArray(raw) ? raw : [raw]).map(String);
    } else {
      if (Array.isArray(raw) || typeof raw === 'boolean') throw new UsageError(`--config ${file}: '${section}.${key}' must be a single value`);
      merged[key] = typeof raw === 'number' && /timeout|interval|reconnect/.test(key) ? `${raw}ms` : String(raw);
    }
  }
  for (const [key, value] of Object.entries(values)) if (value !== undefined) merged[key] = value;
  return merged;
}

function str(values: Values, flag: string): string | undefined {
  const v = values[flag];
  return typeof v === 'string' ? v : undefined;
}

function list(values: Values, flag: string): string[] {
  const v = values[flag];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

function duration(values: Values, flag: string): number | undefined {
  const v = str(values, flag);
  return v === undefined ? undefined : parseDurationMs(`--${flag}`, v);
}

function integer(values: Values, flag: string): number | undefined {
  const v = str(values, flag);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} must be a whole number; got '${v}'`);
  return Number(v);
}

function readFile(flag: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function hostPort(flag: string, text: string | undefined): { host: string; port: number } | undefined {
  if (text === undefined) return undefined;
  try {
    return parseHostPort(`--${flag}`, text, '127.0.0.1');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function tokensFrom(values: Values): string[] {
  const tokens = [...list(values, 'token')];
  const file = readFile('token-file', str(values, 'token-file'));
  if (file !== undefined) tokens.push(...file.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
  const env = process.env.LIFELINE_TUNNEL_TOKEN;
  if (tokens.length === 0 && env !== undefined && env !== '') tokens.push(env);
  return tokens;
}

/** Build a library object; an InvalidOptionError becomes a usage error naming the flag. */
function build<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof InvalidOptionError) {
      const name = error.option.split('.')[1] ?? error.option;
      const flag = OPTION_FLAG[name];
      throw new UsageError(flag === undefined ? error.message : `${flag}: ${error.message}`);
    }
    throw error;
  }
}

function logger(io: CliIo, format: string | undefined): (event: string, fields: Record<string, unknown>, text: string) => void {
  if (format !== undefined && format !== 'text' && format !== 'json') throw new UsageError(`--log must be text or json; got '${format}'`);
  return (event, fields, text) => {
    if (format === 'json') io.out(`${JSON.stringify({ t: Date.now(), event, ...fields })}\n`);
    else io.out(`${new Date().toISOString()} ${text}\n`);
  };
}

/** Resolve on SIGINT or SIGTERM (removing the handlers). */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function transportFlag(values: Values): 'tls' | 'wss' | undefined {
  const t = str(values, 'transport');
  if (t !== undefined && t !== 'tls' && t !== 'wss') throw new UsageError(`--transport must be tls or wss; got '${t}'`);
  return t;
}

async function runServer(argv: readonly string[], io: CliIo): Promise<number> {
  const { values: flags } = parseFlags({ args: [...argv], options: SERVER_FLAGS, allowPositionals: false });
  const values = withConfig(flags, 'server', SERVER_FLAGS);
  const log = logger(io, str(values, 'log'));
  const listen = hostPort('listen', str(values, 'listen'));
  if (listen === undefined) throw new UsageError('--listen HOST:PORT is required');
  const cert = readFile('cert', str(values, 'cert'));
  const key = readFile('key', str(values, 'key'));
  if (cert === undefined) throw new UsageError('--cert FILE is required (make one with `lifeline tunnel keygen`)');
  if (key === undefined) throw new UsageError('--key FILE is required');
  const tokens = tokensFrom(values);
  const clientCa = readFile('client-ca', str(values, 'client-ca'));
  if (tokens.length === 0 && clientCa === undefined) throw new UsageError('--token-file (or --token, LIFELINE_TUNNEL_TOKEN) or --client-ca is required');
  const allow = list(values, 'allow');
  const allowAny = values['allow-any'] === true;
  if (allow.length === 0 && !allowAny) throw new UsageError('--allow RULE is required: refusing to start an open relay (give --allow-any to mean it)');
  const admin = hostPort('admin', str(values, 'admin'));
  const options: TunnelServerOptions = { host: listen.host, port: listen.port, cert, key, tokens, allow, allowAny };
  if (clientCa !== undefined) options.clientCa = clientCa;
  const transport = transportFlag(values);
  if (transport !== undefined) options.transport = transport;
  const wsPath = str(values, 'ws-path');
  if (wsPath !== undefined) options.wsPath = wsPath;
  const set = <K extends keyof TunnelServerOptions>(k: K, v: TunnelServerOptions[K] | undefined): void => {
    if (v !== undefined) options[k] = v;
  };
  set('pingIntervalMs', duration(values, 'ping-interval'));
  set('clientTimeoutMs', duration(values, 'client-timeout'));
  set('minPingIntervalMs', duration(values, 'min-ping-interval'));
  set('handshakeTimeoutMs', duration(values, 'handshake-timeout'));
  set('connectTimeoutMs', duration(values, 'connect-timeout'));
  set('maxClients', integer(values, 'max-clients'));
  set('maxStreamsPerClient', integer(values, 'max-streams'));
  set('streamIdleTimeoutMs', duration(values, 'stream-idle-timeout'));
  set('windowBytes', integer(values, 'window'));
  if (allow.length === 0) delete options.allow;
  const server = build(() => new TunnelServer(options));
  server.on('warning', (m) => log('warning', { message: m }, `warning: ${m}`));
  server.on('session', (s) => log('session', { session: s.id, name: s.name, remote: s.transport.remoteAddress, reconnects: s.reconnects }, `session ${s.id} open: ${s.name} from ${s.transport.remoteAddress} (reconnects ${s.reconnects})`));
  server.on('sessionClose', (s, reason, error) => {
    const code = (error as { code?: unknown } | undefined)?.code;
    log('sessionClose', { session: s.id, reason, code: typeof code === 'string' ? code : null, message: error?.message ?? null }, `session ${s.id} closed: ${reason}${typeof code === 'string' ? ` (${code}: ${error?.message ?? ''})` : ''}`);
  });
  const address = await server.listen();
  let adminServer: AdminServer | undefined;
  if (admin !== undefined) adminServer = await AdminServer.listen(admin.host, admin.port, { status: () => server.status(), metrics: () => server.metrics() });
  log('listening', { host: address.host, port: address.port, transport: server.transport, admin: adminServer?.port ?? null, pid: process.pid }, `listening on ${address.host}:${address.port} (${server.transport}), allow ${allowAny ? 'ANY (open relay)' : allow.join(' ')}${adminServer === undefined ? '' : `, admin on port ${adminServer.port}`}`);
  const signal = await untilSignal();
  log('stopping', { signal }, `stopping (${signal})`);
  await Promise.all([server.close(), adminServer?.close()]);
  return 0;
}

async function runClient(argv: readonly string[], io: CliIo): Promise<number> {
  const { values: flags } = parseFlags({ args: [...argv], options: CLIENT_FLAGS, allowPositionals: false });
  const values = withConfig(flags, 'client', CLIENT_FLAGS);
  const log = logger(io, str(values, 'log'));
  const serverText = str(values, 'server');
  if (serverText === undefined) throw new UsageError('--server HOST:PORT is required');
  const token = tokensFrom(values)[0];
  const cert = readFile('cert', str(values, 'cert'));
  const key = readFile('key', str(values, 'key'));
  const socks = hostPort('socks', str(values, 'socks'));
  const httpProxy = hostPort('http-proxy', str(values, 'http-proxy'));
  const forwards = list(values, 'forward').map((f) => {
    try {
      return parseForwardSpec('--forward', f);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  });
  if (socks === undefined && httpProxy === undefined && forwards.length === 0) throw new UsageError('give at least one entry point: --socks, --http-proxy or -L');
  const admin = hostPort('admin', str(values, 'admin'));
  const options: TunnelClientOptions = { server: serverText };
  const set = <K extends keyof TunnelClientOptions>(k: K, v: TunnelClientOptions[K] | undefined): void => {
    if (v !== undefined) options[k] = v;
  };
  set('token', token);
  set('cert', cert);
  set('key', key);
  set('fingerprint', str(values, 'fingerprint'));
  set('ca', readFile('ca', str(values, 'ca')));
  set('servername', str(values, 'servername'));
  set('transport', transportFlag(values));
  set('wsPath', str(values, 'ws-path'));
  set('name', str(values, 'name'));
  set('pingIntervalMs', duration(values, 'ping-interval'));
  set('pingTimeoutMs', duration(values, 'ping-timeout'));
  set('missedPings', integer(values, 'missed-pings'));
  set('reconnectInitialMs', duration(values, 'reconnect-min'));
  set('reconnectMaxMs', duration(values, 'reconnect-max'));
  set('connectTimeoutMs', duration(values, 'connect-timeout'));
  set('handshakeTimeoutMs', duration(values, 'handshake-timeout'));
  set('openTimeoutMs', duration(values, 'open-timeout'));
  set('windowBytes', integer(values, 'window'));
  if (options.token === undefined && options.cert === undefined) throw new UsageError('--token-file (or --token, LIFELINE_TUNNEL_TOKEN) or --cert/--key is required');
  const client = build(() => new TunnelClient(options));
  client.on('connected', (i) => log('connected', i, `connected to ${serverText} (${i.address}), session ${i.sessionId}, ping every ${i.pingIntervalMs} ms`));
  client.on('dead', (i) => log('dead', i, `server declared dead: silent ${Math.round(i.silentMs)} ms (bound ${i.boundMs} ms)`));
  client.on('disconnected', (i) => log('disconnected', { code: i.code, message: i.error?.message ?? null, connectedMs: Math.round(i.connectedMs) }, `disconnected: ${i.code}${i.error === undefined ? '' : ` (${i.error.message})`}`));
  client.on('connectFailed', (i) => log('connectFailed', { code: i.code, message: i.error.message, attempt: i.attempt }, `connect attempt ${i.attempt} failed: ${i.code} (${i.error.message})`));
  client.on('reconnecting', (i) => log('reconnecting', i, `reconnecting in ${i.delayMs} ms (attempt ${i.attempt})`));
  client.on('notice', (m) => log('notice', { message: m }, `server notice: ${m}`));
  client.on('warning', (m) => log('warning', { message: m }, `warning: ${m}`));
  client.on('entry', (e) => log('entry', e, `${e.kind}${e.destination === undefined ? '' : ` ${e.destination}`}: ${e.message}`));
  const entries: { kind: string; port: number }[] = [];
  try {
    if (socks !== undefined) entries.push({ kind: 'socks', port: (await client.listenSocks(socks.host, socks.port)).address.port });
    if (httpProxy !== undefined) entries.push({ kind: 'http-proxy', port: (await client.listenHttpProxy(httpProxy.host, httpProxy.port)).address.port });
    for (const f of forwards) entries.push({ kind: `forward ${f.target.host}:${f.target.port}`, port: (await client.forward(f)).address.port });
    if (admin !== undefined) entries.push({ kind: 'admin', port: (await client.listenAdmin(admin.host, admin.port)).port });
  } catch (error) {
    await client.close();
    throw error;
  }
  log('listening', { entries, pid: process.pid }, `entry points: ${entries.map((e) => `${e.kind} on port ${e.port}`).join(', ')}`);
  client.start();
  const signal = await untilSignal();
  log('stopping', { signal }, `stopping (${signal})`);
  await client.close();
  return 0;
}

function runKeygen(argv: readonly string[], io: CliIo): number {
  const { values } = parseFlags({ args: [...argv], options: { out: { type: 'string' }, name: { type: 'string', multiple: true }, days: { type: 'string' } } });
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 36_500)) throw new UsageError(`--days must be a whole number from 1 to 36500; got '${values.days ?? ''}'`);
  const dir = values.out ?? '.';
  const pair = generateKeyPair({ ...(values.name === undefined ? {} : { names: values.name }), ...(days === undefined ? {} : { days }) });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tunnel.key'), pair.key, { mode: 0o600 });
  writeFileSync(join(dir, 'tunnel.crt'), pair.cert, { mode: 0o644 });
  io.out(`wrote ${join(dir, 'tunnel.key')} and ${join(dir, 'tunnel.crt')}\nfingerprint (give the client --fingerprint):\n${pair.fingerprint}\n`);
  return 0;
}

function fetchText(host: string, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode ?? 0}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_c, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

async function runStatus(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags({ args: [...argv], options: { admin: { type: 'string' }, json: { type: 'boolean' }, metrics: { type: 'boolean' } } });
  const admin = hostPort('admin', values.admin);
  if (admin === undefined) throw new UsageError('--admin HOST:PORT is required (the --admin address of a running server or client)');
  if (values.metrics === true) {
    io.out(await fetchText(admin.host, admin.port, '/metrics'));
    return 0;
  }
  const text = await fetchText(admin.host, admin.port, '/status');
  if (values.json === true) {
    io.out(text);
    return 0;
  }
  const status = JSON.parse(text) as Partial<TunnelServerStatus> & Record<string, unknown>;
  if (Array.isArray(status.sessions)) {
    const rows = [['SESSION', 'NAME', 'REMOTE', 'STATE', 'RTT ms', 'STREAMS', 'BYTES IN', 'BYTES OUT', 'RECONNECTS', 'UP s']];
    for (const s of status.sessions) {
      rows.push([String(s.id), s.name, s.remote, s.state, s.rttMs === null ? '-' : s.rttMs.toFixed(1), String(s.streams), String(s.bytesFromClient), String(s.bytesToClient), String(s.reconnects), String(Math.round(s.connectedForMs / 1000))]);
    }
    io.out(`${table(rows)}\n${status.sessions.length} session(s)\n`);
  } else {
    const rows = Object.entries(status)
      .filter(([, v]) => typeof v !== 'object' || v === null)
      .map(([k, v]) => [k, String(v)]);
    io.out(`${table(rows)}\n`);
  }
  return 0;
}

export const tunnelCommand: Command = {
  name: 'tunnel',
  summary: 'TLS tunnel with SOCKS5, HTTP CONNECT and -L forwards; the client pings, reconnects',
  help: HELP,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'server':
        return runServer(rest, io);
      case 'client':
        return runClient(rest, io);
      case 'keygen':
        return runKeygen(rest, io);
      case 'status':
        return runStatus(rest, io);
      case undefined:
        throw new UsageError('a sub-command is required: server, client, keygen or status');
      default:
        throw new UsageError(`unknown sub-command '${sub}'; use server, client, keygen or status`);
    }
  },
};
