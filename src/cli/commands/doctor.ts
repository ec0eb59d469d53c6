/**
 * `lifeline doctor [--json]`: what this machine gives lifeline (native addon, TCP options, user
 * read buffer, keep-awake mechanisms, Node), each with why not. The answer to "is TCP keepalive
 * control on?" after an install that could not build the addon (npm hides install output).
 * Exit 0 always: missing pieces are fallbacks, not failures.
 */
import { parseFlags } from '../command.js';
import type { Command } from '../command.js';
import { transportCapabilities } from '../../transport/capabilities.js';
import { awakeCapabilities } from '../../awake/capabilities.js';

const HELP = `lifeline doctor: what this machine gives lifeline, and why not

Usage:
  lifeline doctor [--json]

Reports: the native TCP addon (loaded, or why not and the build log), TCP_KEEPIDLE, TCP_KEEPINTVL,
TCP_KEEPCNT and TCP_USER_TIMEOUT (set on a loopback socket and read back), reading into a shared
buffer (onread), keep-awake mechanisms (logind over D-Bus, ScreenSaver, caffeinate, PowerShell),
and the Node version. --json prints the same as one JSON object.
`;

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'what this machine supports (native addon, TCP options, D-Bus) and why not',
  help: HELP,
  async run(argv, io) {
    const { values } = parseFlags({ args: [...argv], options: { json: { type: 'boolean' } }, allowPositionals: false, strict: true });
    const transport = await transportCapabilities();
    const awake = awakeCapabilities();
    if (values.json === true) {
      io.out(`${JSON.stringify({ ...transport, awake }, null, 2)}\n`);
      return 0;
    }
    const mark = (ok: boolean): string => (ok ? 'ok ' : 'no ');
    const rows: [boolean, string, string][] = [
      [true, 'node', `${transport.node} (${transport.platform})`],
      [transport.nativeAddon.available, 'native TCP addon', transport.nativeAddon.detail],
      [transport.tcpKeepIdle.available, 'TCP_KEEPIDLE', transport.tcpKeepIdle.detail],
      [transport.tcpKeepInterval.available, 'TCP_KEEPINTVL', transport.tcpKeepInterval.detail],
      [transport.tcpKeepCount.available, 'TCP_KEEPCNT', transport.tcpKeepCount.detail],
      [transport.tcpUserTimeout.available, 'TCP_USER_TIMEOUT', transport.tcpUserTimeout.detail],
      [transport.userReadBuffer.available, 'user read buffer', transport.userReadBuffer.detail],
      ...awake.map((a): [boolean, string, string] => [a.available, `awake: ${a.mechanism}`, a.detail]),
    ];
    const width = Math.max(...rows.map((r) => r[1].length));
    io.out(`${rows.map(([ok, name, detail]) => `${mark(ok)}${name.padEnd(width)}  ${detail}`).join('\n')}\n`);
    return 0;
  },
};
