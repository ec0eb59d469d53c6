/**
 * `lifeline tunnel server|client|keygen|status`: flags and output only; the work is in
 * src/tunnel. Bad flags or config values exit 2 naming where they were written (the flag, or
 * file:line:col and key); runtime failures exit 1; a client that gave up on fatal failures exits 3.
 * `server` and `client` run until SIGINT/SIGTERM and log one line per event (`--log json` for JSON
 * lines with a wall-clock `t` in ms). Each sub-command has its own `--help`.
 */
import { UsageError } from '../../command.js';
import type { CliIo, Command } from '../../command.js';
import { CLIENT_HELP, runClient } from './client.js';
import { KEYGEN_HELP, runKeygen } from './keygen.js';
import { SERVER_HELP, runServer } from './server.js';
import { runStatus, STATUS_HELP } from './status.js';

const HELP = `lifeline tunnel: a TLS tunnel whose client pings to stay present

Usage:
  lifeline tunnel server --listen HOST:PORT --cert FILE --key FILE --token-file FILE --allow RULE...
  lifeline tunnel client --server HOST:PORT --token-file FILE --fingerprint SHA256 --socks 127.0.0.1:1080
  lifeline tunnel keygen [--out DIR] [--name HOST]... [--force]
  lifeline tunnel status --admin HOST:PORT [--json | --metrics]

Each sub-command's flags: lifeline tunnel <server|client|keygen|status> --help
Config files (--config, with --check to validate only): examples/tunnel.yaml. More: docs/tunnel.md.
`;

const SUBCOMMANDS: Record<string, { help: string; run: (argv: readonly string[], io: CliIo) => Promise<number> | number }> = {
  server: { help: SERVER_HELP, run: runServer },
  client: { help: CLIENT_HELP, run: runClient },
  keygen: { help: KEYGEN_HELP, run: runKeygen },
  status: { help: STATUS_HELP, run: runStatus },
};

export const tunnelCommand: Command = {
  name: 'tunnel',
  summary: 'TLS tunnel with SOCKS5, HTTP CONNECT and -L forwards; the client pings, reconnects',
  help: HELP,
  helpFor(argv) {
    const sub = argv[0];
    return sub === undefined ? undefined : SUBCOMMANDS[sub]?.help;
  },
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError('a sub-command is required: server, client, keygen or status');
    const command = SUBCOMMANDS[sub];
    if (command === undefined) throw new UsageError(`unknown sub-command '${sub}'; use server, client, keygen or status`);
    return command.run(rest, io);
  },
};
