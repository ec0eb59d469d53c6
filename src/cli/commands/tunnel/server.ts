/** `lifeline tunnel server`: flags and config file to TunnelServer options; logs one line per event. */
import { MAX_WHEEL_TIMEOUT_MS } from '../../../core/timer-wheel.js';
import type { CliIo } from '../../command.js';
import { parseHostPort } from '../../../tunnel/address.js';
import { AdminServer } from '../../../tunnel/admin-server.js';
import { TunnelServer } from '../../../tunnel/tunnel-server.js';
import type { TunnelServerOptions } from '../../../tunnel/tunnel-server.js';
import { collectTokens, logger, untilSignal } from './common.js';
import { fieldHelp, loadSettings } from './settings.js';
import type { Field } from './settings.js';

const MAX_MS = 2 ** 31 - 1;

export const SERVER_FIELDS: readonly Field[] = [
  { key: 'listen', flag: 'listen', kind: 'hostPort', help: 'where clients connect (required)' },
  { key: 'certFile', flag: 'cert', kind: 'file', help: 'server certificate, PEM (required; see keygen)' },
  { key: 'keyFile', flag: 'key', kind: 'file', help: 'its private key, PEM (required)' },
  { key: 'tokens', flag: 'token', kind: 'list', arg: 'TOKEN', help: 'an accepted token, repeatable (visible in ps: prefer --token-file)' },
  { key: 'tokenFile', flag: 'token-file', kind: 'file', help: 'accepted tokens, one a line (or LIFELINE_TUNNEL_TOKEN)' },
  { key: 'clientCaFile', flag: 'client-ca', kind: 'file', help: 'also accept clients with a certificate signed by this CA' },
  { key: 'allow', flag: 'allow', kind: 'list', help: 'allowed destinations HOSTS:PORTS, repeatable: db.internal:5432, *.internal:443, 10.0.0.0/8:*' },
  { key: 'allowAny', flag: 'allow-any', kind: 'boolean', help: 'allow every destination (an open relay; never the default)' },
  { key: 'transport', flag: 'transport', kind: 'enum', values: ['tls', 'wss'], help: 'TLS 1.3 over TCP, or WebSocket over TLS (default tls)' },
  { key: 'wsPath', flag: 'ws-path', kind: 'string', arg: 'PATH', help: 'WebSocket path (default /lifeline-tunnel)' },
  { key: 'pingIntervalMs', flag: 'ping-interval', kind: 'duration', min: 10, max: MAX_MS, help: 'interval announced to clients (default 25s)' },
  { key: 'clientTimeoutMs', flag: 'client-timeout', kind: 'duration', min: 1, max: MAX_MS, help: 'drop a client silent this long (default 75s)' },
  { key: 'minPingIntervalMs', flag: 'min-ping-interval', kind: 'duration', min: 1, max: MAX_MS, help: 'pings closer than this beyond a burst of 10 are limited (default interval / 25)' },
  { key: 'handshakeTimeoutMs', flag: 'handshake-timeout', kind: 'duration', min: 1, max: MAX_MS, help: 'accept to AUTH (default 10s)' },
  { key: 'connectTimeoutMs', flag: 'connect-timeout', kind: 'duration', min: 1, max: MAX_MS, help: 'resolve + connect to a destination (default 10s)' },
  { key: 'maxClients', flag: 'max-clients', kind: 'integer', min: 1, max: 1_000_000, help: 'sessions at once (default 1000)' },
  { key: 'maxStreamsPerClient', flag: 'max-streams', kind: 'integer', min: 1, max: 1_000_000, help: 'streams per client at once (default 1024)' },
  { key: 'streamIdleTimeoutMs', flag: 'stream-idle-timeout', kind: 'duration', min: 0, max: MAX_WHEEL_TIMEOUT_MS, help: 'reset a stream idle this long; 0 = never (default 15m)' },
  { key: 'windowBytes', flag: 'window', kind: 'integer', arg: 'BYTES', min: 16_384, max: 16_777_216, help: 'receive window per stream (default 1048576)' },
  { key: 'admin', flag: 'admin', kind: 'hostPort', help: 'serve GET /status and /metrics (Prometheus) here' },
  { key: 'log', flag: 'log', kind: 'enum', values: ['text', 'json'], help: 'one line per event, as text or JSON lines (default text)' },
];

export const SERVER_HELP = `lifeline tunnel server: accept tunnel clients and dial allowed destinations for them

Usage:
  lifeline tunnel server --listen HOST:PORT --cert FILE --key FILE --token-file FILE --allow RULE...
  lifeline tunnel server --config FILE [--check]

Flags (the config file key in brackets):
${fieldHelp(SERVER_FIELDS)}
  --config FILE              YAML or JSON with a "server:" mapping of the keys in brackets
                             (durations in integer ms); flags win over the file
  --check                    validate flags, config and files, print "ok", exit (no listening)

Durations on the command line: 1500ms, 30s, 5m, 1h (a bare number is ms).
Exit codes: 0 stopped by SIGINT/SIGTERM or --check ok, 1 runtime failure, 2 bad flags or config.
Example config: examples/tunnel.yaml. More: docs/tunnel.md.
`;

/** Library option name -> setting key, where they differ. */
const OPTION_KEY: Record<string, string> = { cert: 'certFile', key: 'keyFile', clientCa: 'clientCaFile', port: 'listen', host: 'listen' };

export async function runServer(argv: readonly string[], io: CliIo): Promise<number> {
  const { settings: s, check } = loadSettings('tunnel server', 'server', SERVER_FIELDS, argv);
  const listenText = s.str('listen');
  if (listenText === undefined) s.general('--listen HOST:PORT (listen in the config) is required');
  const cert = s.readFile('certFile');
  const key = s.readFile('keyFile');
  if (s.str('certFile') === undefined) s.general('--cert FILE (certFile) is required (make one with `lifeline tunnel keygen`)');
  if (s.str('keyFile') === undefined) s.general('--key FILE (keyFile) is required');
  const tokens = collectTokens(s, 'tokens');
  const clientCa = s.readFile('clientCaFile');
  if (tokens.length === 0 && clientCa === undefined && s.str('clientCaFile') === undefined && s.str('tokenFile') === undefined && s.list('tokens').length === 0) {
    s.general('--token-file (or --token, LIFELINE_TUNNEL_TOKEN) or --client-ca is required');
  }
  const allow = s.list('allow');
  const allowAny = s.bool('allowAny');
  if (allow.length === 0 && !allowAny) s.general('--allow RULE is required: refusing to start an open relay (give --allow-any to mean it)');
  s.check();
  const listen = parseHostPort('--listen', listenText ?? '', '127.0.0.1');
  const options: TunnelServerOptions = { host: listen.host, port: listen.port, cert: cert ?? '', key: key ?? '', tokens, allowAny };
  if (allow.length > 0) options.allow = allow;
  if (clientCa !== undefined) options.clientCa = clientCa;
  const transport = s.str('transport');
  if (transport === 'tls' || transport === 'wss') options.transport = transport;
  const wsPath = s.str('wsPath');
  if (wsPath !== undefined) options.wsPath = wsPath;
  for (const k of ['pingIntervalMs', 'clientTimeoutMs', 'minPingIntervalMs', 'handshakeTimeoutMs', 'connectTimeoutMs', 'maxClients', 'maxStreamsPerClient', 'streamIdleTimeoutMs', 'windowBytes'] as const) {
    const v = s.num(k);
    if (v !== undefined) options[k] = v;
  }
  const server = s.build(() => new TunnelServer(options), OPTION_KEY);
  if (check) {
    await server.close();
    io.out('tunnel server: ok\n');
    return 0;
  }
  const log = logger(io, s.str('log'));
  const adminText = s.str('admin');
  const admin = adminText === undefined ? undefined : parseHostPort('--admin', adminText, '127.0.0.1');
  server.on('warning', (m) => log('warning', { message: m }, `warning: ${m}`));
  server.on('session', (x) => log('session', { session: x.id, name: x.name, remote: x.transport.remoteAddress, reconnects: x.reconnects }, `session ${x.id} open: ${x.name} from ${x.transport.remoteAddress} (reconnects ${x.reconnects})`));
  server.on('sessionClose', (x, reason, error, info) => {
    const code = (error as { code?: unknown } | undefined)?.code;
    log('sessionClose', { session: x.id, reason, side: info.side, layer: info.layer, code: typeof code === 'string' ? code : null, message: error?.message ?? null }, `session ${x.id} closed: ${reason} (${info.side}, ${info.layer})${typeof code === 'string' ? ` (${code}: ${error?.message ?? ''})` : ''}`);
  });
  let adminServer: AdminServer | undefined;
  let address: { host: string; port: number };
  try {
    address = await server.listen();
    if (admin !== undefined) adminServer = await AdminServer.listen(admin.host, admin.port, { status: () => server.status(), metrics: () => server.metrics() });
  } catch (error) {
    await server.close();
    throw error;
  }
  const signal = untilSignal();
  log('listening', { host: address.host, port: address.port, transport: server.transport, admin: adminServer?.port ?? null, pid: process.pid }, `listening on ${address.host}:${address.port} (${server.transport}), allow ${allowAny ? 'ANY (open relay)' : allow.join(' ')}${adminServer === undefined ? '' : `, admin on port ${adminServer.port}`}`);
  const why = await signal.done;
  log('stopping', { signal: why }, `stopping (${why})`);
  await Promise.all([server.close(), adminServer?.close()]);
  return 0;
}
