/** `lifeline tunnel status`: read a running server's or client's admin endpoint. */
import { get } from 'node:http';
import { parseFlags, UsageError } from '../../command.js';
import type { CliIo } from '../../command.js';
import { parseHostPort } from '../../../tunnel/address.js';
import type { TunnelServerStatus } from '../../../tunnel/tunnel-server.js';

export const STATUS_HELP = `lifeline tunnel status: sessions, RTT, streams and bytes of a running server (or a client)

Usage:
  lifeline tunnel status --admin HOST:PORT [--json | --metrics]

Flags:
  --admin HOST:PORT   the --admin address of a running server or client (required)
  --json              print the raw JSON of GET /status
  --metrics           print the Prometheus text of GET /metrics
`;

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

export async function runStatus(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags({ args: [...argv], options: { admin: { type: 'string' }, json: { type: 'boolean' }, metrics: { type: 'boolean' } }, allowPositionals: false, strict: true });
  if (values.admin === undefined) throw new UsageError('--admin HOST:PORT is required (the --admin address of a running server or client)', { command: 'tunnel status' });
  let admin: { host: string; port: number };
  try {
    admin = parseHostPort('--admin', values.admin, '127.0.0.1');
  } catch (error) {
    throw new UsageError((error as Error).message, { command: 'tunnel status' });
  }
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

