/**
 * `lifeline tunnel client`: flags and config file to TunnelClient options; logs one line per
 * event. A fatal failure (credentials refused, certificate not the pinned one or not valid) ends
 * the process with exit code 3 after `maxFatalRetries` retries, unless `--retry-forever`.
 */
import type { CliIo } from '../../command.js';
import { parseForwardSpec, parseHostPort } from '../../../tunnel/address.js';
import type { ForwardSpec } from '../../../tunnel/address.js';
import { TunnelClient } from '../../../tunnel/tunnel-client.js';
import type { TunnelClientOptions } from '../../../tunnel/tunnel-client.js';
import { collectTokens, logger, untilSignal } from './common.js';
import { fieldHelp, loadSettings } from './settings.js';
import type { Field } from './settings.js';

const MAX_MS = 2 ** 31 - 1;
/** Exit code of a client stopped by a fatal failure (so a supervisor can tell it from a crash). */
export const EXIT_FATAL = 3;

export const CLIENT_FIELDS: readonly Field[] = [
  { key: 'server', flag: 'server', kind: 'string', arg: 'HOST:PORT', help: 'the tunnel server (resolved again on every reconnect; required)' },
  { key: 'token', flag: 'token', kind: 'string', arg: 'TOKEN', help: 'the token (visible in ps: prefer --token-file or LIFELINE_TUNNEL_TOKEN)' },
  { key: 'tokenFile', flag: 'token-file', kind: 'file', help: 'a file holding the token' },
  { key: 'certFile', flag: 'cert', kind: 'file', help: 'authenticate with this client certificate instead (with --key)' },
  { key: 'keyFile', flag: 'key', kind: 'file', help: "the client certificate's key" },
  { key: 'fingerprint', flag: 'fingerprint', kind: 'string', arg: 'SHA256', help: 'pin the server certificate (printed by keygen)' },
  { key: 'caFile', flag: 'ca', kind: 'file', help: 'verify the server against this CA instead of pinning' },
  { key: 'servername', flag: 'servername', kind: 'string', arg: 'NAME', help: 'TLS server name (default: the host of --server)' },
  { key: 'transport', flag: 'transport', kind: 'enum', values: ['tls', 'wss'], help: 'as the server (default tls)' },
  { key: 'wsPath', flag: 'ws-path', kind: 'string', arg: 'PATH', help: 'WebSocket path (default /lifeline-tunnel)' },
  { key: 'name', flag: 'name', kind: 'string', arg: 'NAME', help: "shown in the server's status" },
  { key: 'socks', flag: 'socks', kind: 'hostPort', help: 'SOCKS5 entry point (CONNECT; names resolved on the server)' },
  { key: 'httpProxy', flag: 'http-proxy', kind: 'hostPort', help: 'HTTP CONNECT entry point' },
  { key: 'forward', flag: 'forward', short: 'L', kind: 'list', arg: '[BIND:]PORT:HOST:HOSTPORT', help: 'static forward, repeatable' },
  { key: 'pingIntervalMs', flag: 'ping-interval', kind: 'duration', min: 10, max: MAX_MS, help: 'ping after this much silence (default 25s)' },
  { key: 'pingTimeoutMs', flag: 'ping-timeout', kind: 'duration', min: 1, max: MAX_MS, help: 'reply timeout of each ping (default 10s)' },
  { key: 'missedPings', flag: 'missed-pings', kind: 'integer', min: 1, max: 100, help: 'unanswered pings that make the server dead (default 3)' },
  { key: 'reconnectInitialMs', flag: 'reconnect-min', kind: 'duration', min: 1, max: MAX_MS, help: 'backoff: first ceiling (default 200ms)' },
  { key: 'reconnectMaxMs', flag: 'reconnect-max', kind: 'duration', min: 1, max: MAX_MS, help: 'backoff: cap (default 30s)' },
  { key: 'connectTimeoutMs', flag: 'connect-timeout', kind: 'duration', min: 1, max: MAX_MS, help: 'resolve + TCP + TLS (default 10s)' },
  { key: 'handshakeTimeoutMs', flag: 'handshake-timeout', kind: 'duration', min: 1, max: MAX_MS, help: "TLS up to the server's WELCOME (default 10s)" },
  { key: 'openTimeoutMs', flag: 'open-timeout', kind: 'duration', min: 0, max: MAX_MS, help: 'a local connection waits this long for a session (default 10s)' },
  { key: 'pipelineOpens', flag: 'no-pipeline-opens', kind: 'boolean', negated: true, help: 'wait for the server on every open: exact SOCKS replies, one more round trip per repeat destination' },
  { key: 'windowBytes', flag: 'window', kind: 'integer', arg: 'BYTES', min: 16_384, max: 16_777_216, help: 'receive window per stream (default 1048576)' },
  { key: 'maxFatalRetries', flag: 'max-fatal-retries', kind: 'integer', min: 0, max: 1_000_000, help: 'retries after auth refused / bad certificate before exiting 3 (default 2)' },
  { key: 'retryForever', flag: 'retry-forever', kind: 'boolean', help: 'never give up, even after fatal failures' },
  { key: 'admin', flag: 'admin', kind: 'hostPort', help: 'serve GET /status and /metrics here' },
  { key: 'log', flag: 'log', kind: 'enum', values: ['text', 'json'], help: 'one line per event, as text or JSON lines (default text)' },
];

export const CLIENT_HELP = `lifeline tunnel client: keep a tunnel session up and serve local entry points over it

Usage:
  lifeline tunnel client --server HOST:PORT --token-file FILE --fingerprint SHA256 --socks 127.0.0.1:1080
  lifeline tunnel client --config FILE [--check]

Flags (the config file key in brackets):
${fieldHelp(CLIENT_FIELDS)}
  --config FILE              YAML or JSON with a "client:" mapping of the keys in brackets
                             (durations in integer ms); flags win over the file
  --check                    validate flags, config and files, print "ok", exit (no connecting)

Durations on the command line: 1500ms, 30s, 5m, 1h (a bare number is ms).
Exit codes: 0 stopped by SIGINT/SIGTERM or --check ok, 1 runtime failure, 2 bad flags or config,
3 gave up after fatal failures (credentials refused, certificate not pinned or not valid).
Example config: examples/tunnel.yaml. More: docs/tunnel.md.
`;

const OPTION_KEY: Record<string, string> = { cert: 'certFile', key: 'keyFile', ca: 'caFile' };

export async function runClient(argv: readonly string[], io: CliIo): Promise<number> {
  const { settings: s, check } = loadSettings('tunnel client', 'client', CLIENT_FIELDS, argv);
  const serverText = s.str('server');
  if (serverText === undefined) s.general('--server HOST:PORT (server in the config) is required');
  const token = collectTokens(s, 'token')[0];
  const cert = s.readFile('certFile');
  const key = s.readFile('keyFile');
  const ca = s.readFile('caFile');
  const forwards: ForwardSpec[] = [];
  for (const f of s.list('forward')) {
    const fromFlag = s.where('forward') === '--forward';
    try {
      forwards.push(parseForwardSpec(fromFlag ? '--forward' : 'forward', f));
    } catch (error) {
      if (fromFlag) s.general((error as Error).message);
      else s.problem('forward', (error as Error).message.replace(/^forward /, ''));
    }
  }
  const socksText = s.str('socks');
  const httpText = s.str('httpProxy');
  if (socksText === undefined && httpText === undefined && s.list('forward').length === 0) s.general('give at least one entry point: --socks, --http-proxy or -L (socks, httpProxy, forward)');
  if (token === undefined && s.str('certFile') === undefined && s.str('token') === undefined && s.str('tokenFile') === undefined) {
    s.general('--token-file (or --token, LIFELINE_TUNNEL_TOKEN) or --cert/--key is required');
  }
  if (s.bool('retryForever') && s.num('maxFatalRetries') !== undefined) s.problem('retryForever', 'cannot be combined with maxFatalRetries (--max-fatal-retries)');
  s.check();
  const options: TunnelClientOptions = { server: serverText ?? '' };
  const set = <K extends keyof TunnelClientOptions>(k: K, v: TunnelClientOptions[K] | undefined): void => {
    if (v !== undefined) options[k] = v;
  };
  set('token', token);
  set('cert', cert);
  set('key', key);
  set('ca', ca);
  set('fingerprint', s.str('fingerprint'));
  set('servername', s.str('servername'));
  const transport = s.str('transport');
  if (transport === 'tls' || transport === 'wss') options.transport = transport;
  set('wsPath', s.str('wsPath'));
  set('name', s.str('name'));
  for (const k of ['pingIntervalMs', 'pingTimeoutMs', 'missedPings', 'reconnectInitialMs', 'reconnectMaxMs', 'connectTimeoutMs', 'handshakeTimeoutMs', 'openTimeoutMs', 'windowBytes', 'maxFatalRetries'] as const) {
    set(k, s.num(k));
  }
  const pipelineOpens = s.values.get('pipelineOpens');
  if (typeof pipelineOpens === 'boolean') options.pipelineOpens = pipelineOpens;
  if (s.bool('retryForever')) options.maxFatalRetries = Infinity;
  const client = s.build(() => new TunnelClient(options), OPTION_KEY);
  if (check) {
    await client.close();
    io.out('tunnel client: ok\n');
    return 0;
  }
  const log = logger(io, s.str('log'));
  client.on('connected', (i) => log('connected', i, `connected to ${serverText ?? ''} (${i.address}), session ${i.sessionId}, ping every ${i.pingIntervalMs} ms`));
  client.on('dead', (i) => log('dead', i, `server declared dead: silent ${Math.round(i.silentMs)} ms (bound ${i.boundMs} ms)`));
  client.on('disconnected', (i) =>
    log(
      'disconnected',
      { closeReason: i.closeReason, side: i.side, layer: i.layer, code: i.code, message: i.error?.message ?? null, connectedMs: Math.round(i.connectedMs) },
      `disconnected: ${i.closeReason} (${i.side}, ${i.layer}; ${i.code})${i.error === undefined ? '' : ` ${i.error.message}`}`,
    ),
  );
  client.on('connectFailed', (i) => log('connectFailed', { code: i.code, message: i.error.message, attempt: i.attempt }, `connect attempt ${i.attempt} failed: ${i.code} (${i.error.message})`));
  client.on('reconnecting', (i) => log('reconnecting', i, `reconnecting in ${i.delayMs} ms (attempt ${i.attempt})`));
  client.on('notice', (m) => log('notice', { message: m }, `server notice: ${m}`));
  client.on('warning', (m) => log('warning', { message: m }, `warning: ${m}`));
  client.on('entry', (e) => log('entry', e, `${e.kind}${e.destination === undefined ? '' : ` ${e.destination}`}: ${e.message}`));
  const entries: { kind: string; port: number }[] = [];
  try {
    // Already checked when the settings were read.
    const hp = (text: string, flag: string): { host: string; port: number } => parseHostPort(flag, text, '127.0.0.1');
    if (socksText !== undefined) {
      const a = hp(socksText, '--socks');
      entries.push({ kind: 'socks', port: (await client.listenSocks(a.host, a.port)).address.port });
    }
    if (httpText !== undefined) {
      const a = hp(httpText, '--http-proxy');
      entries.push({ kind: 'http-proxy', port: (await client.listenHttpProxy(a.host, a.port)).address.port });
    }
    for (const f of forwards) entries.push({ kind: `forward ${f.target.host}:${f.target.port}`, port: (await client.forward(f)).address.port });
    const adminText = s.str('admin');
    if (adminText !== undefined) {
      const a = hp(adminText, '--admin');
      entries.push({ kind: 'admin', port: (await client.listenAdmin(a.host, a.port)).port });
    }
  } catch (error) {
    await client.close();
    throw error;
  }
  log('listening', { entries, pid: process.pid }, `entry points: ${entries.map((e) => `${e.kind} on port ${e.port}`).join(', ')}`);
  const signal = untilSignal();
  let fatal: { code: string; message: string; attempts: number } | undefined;
  client.on('fatal', (i) => {
    fatal = { code: i.code, message: i.error.message, attempts: i.attempts };
    signal.stop('fatal');
  });
  client.start();
  const why = await signal.done;
  if (fatal !== undefined) {
    const hint = fatal.code === 'ERR_TUNNEL_AUTH' ? 'check the token (--token-file) against the server\'s' : fatal.code === 'ERR_TUNNEL_FINGERPRINT' ? 'check --fingerprint against the one `lifeline tunnel keygen` printed for this server' : 'check --ca / --servername, or pin the certificate with --fingerprint';
    log('fatal', { ...fatal }, `giving up after ${fatal.attempts} fatal failure(s) in a row: ${fatal.code} (${fatal.message}); ${hint}; --retry-forever keeps trying`);
    io.err(`lifeline tunnel client: ${fatal.code}: ${fatal.message}; ${hint}\n`);
    await client.close();
    return EXIT_FATAL;
  }
  log('stopping', { signal: why }, `stopping (${why})`);
  await client.close();
  return 0;
}
