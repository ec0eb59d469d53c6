/**
 * `lifeline proxy --config FILE [--check]`: run the reverse proxy, or only validate its config.
 *
 * Signals: SIGTERM and SIGINT drain (stop accepting, finish responses, then exit); a second
 * signal exits at once. SIGHUP reloads the config file; a bad file is reported and the running
 * config stays. With `workers: N` (N > 1) the primary forks N workers (node:cluster shares the
 * listening sockets), runs the demo backends itself, and forwards signals.
 */
import cluster from 'node:cluster';
import { parseFlags } from '../command.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { loadConfig, ConfigError } from '../../proxy/config/index.js';
import type { ProxyConfig } from '../../proxy/config/index.js';
import { Proxy } from '../../proxy/proxy.js';
import { DemoUpstreams } from '../../proxy/demo/demo-upstream.js';
import { formatAddress } from '../../proxy/config/address.js';

const HELP = `lifeline proxy: the reverse proxy and load balancer

Usage:
  lifeline proxy --config FILE          run the proxy
  lifeline proxy --check --config FILE  validate FILE and exit (0 valid, 1 invalid)

Flags:
  -c, --config FILE   the proxy configuration, YAML or JSON (see docs/config.md)
      --check         validate only: print the problems, or "ok", and exit
  -h, --help          this help

Signals: SIGTERM/SIGINT drain gracefully (a second one exits at once); SIGHUP reloads FILE.
Example: lifeline proxy --config examples/demo.yaml
`;

async function load(file: string, io: CliIo, failed?: (error: unknown) => void): Promise<ProxyConfig | undefined> {
  try {
    const config = await loadConfig(file);
    for (const warning of config.warnings) io.err(`lifeline proxy: warning: ${warning}\n`);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      failed?.(error);
      return undefined;
    }
    throw error;
  }
}

async function runWorker(file: string, config: ProxyConfig, io: CliIo, skipDemo: boolean): Promise<number> {
  let proxy: Proxy;
  try {
    proxy = await Proxy.start(config, { skipDemo });
  } catch (error) {
    io.err(`lifeline proxy: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const where = proxy.listeners.map((l) => `${l.config.protocol}://${formatAddress(l.config.host, proxy.port(l.name))}`).join(', ');
  const admin = proxy.adminPort();
  io.err(`lifeline proxy: listening on ${where}${admin === undefined ? '' : `; admin on http://${formatAddress(config.admin?.host ?? '', admin)}`}${proxy.demo === undefined ? '' : `; demo upstreams ${config.demo?.upstreams.map((u) => u.address).join(', ') ?? ''}`}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        io.err(`lifeline proxy: ${signal} again, exiting now\n`);
        void proxy.close().then(() => resolve(1));
        return;
      }
      stopping = true;
      io.err(`lifeline proxy: ${signal}, draining\n`);
      void proxy
        .drain()
        .then((r) => {
          io.err(`lifeline proxy: drained (${r.closedIdle} idle closed, ${r.closedAfterResponse} finished, ${r.forced} forced)\n`);
          return proxy.close();
        })
        .then(() => {
          process.off('SIGHUP', hup);
          // A worker's IPC channel to the primary would keep it alive after the drain.
          if (cluster.isWorker) cluster.worker?.disconnect();
          resolve(0);
        });
    };
    const hup = (): void => {
      void load(file, io, (error) => proxy.events.reloadFailed(file, error)).then((next) => {
        if (next === undefined) return io.err('lifeline proxy: reload failed, keeping the running config\n');
        try {
          proxy.reload(next);
          proxy.events.reloadSucceeded(file);
          io.err('lifeline proxy: config reloaded\n');
        } catch (error) {
          proxy.events.reloadFailed(file, error);
          io.err(`lifeline proxy: reload failed: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', hup);
  });
}

async function runPrimary(config: ProxyConfig, io: CliIo): Promise<number> {
  const demo = config.demo === null ? undefined : await DemoUpstreams.start(config.demo.upstreams);
  for (let i = 0; i < config.workers; i++) cluster.fork();
  io.err(`lifeline proxy: ${config.workers} workers\n`);
  return new Promise<number>((resolve) => {
    let alive = config.workers;
    let stopping = false;
    cluster.on('exit', () => {
      alive -= 1;
      if (alive === 0) void (demo?.close() ?? Promise.resolve()).then(() => resolve(stopping ? 0 : 1));
    });
    const forward = (signal: NodeJS.Signals): void => {
      if (signal !== 'SIGHUP') stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    };
    process.on('SIGTERM', () => forward('SIGTERM'));
    process.on('SIGINT', () => forward('SIGINT'));
    process.on('SIGHUP', () => forward('SIGHUP'));
  });
}

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'run the reverse proxy / load balancer (--config FILE)',
  help: HELP,
  async run(argv, io) {
    const { values } = parseFlags({ args: [...argv], options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } }, strict: true });
    const file = values.config;
    if (file === undefined) throw new UsageError('--config FILE is required');
    const config = await load(file, io);
    if (config === undefined) return 1;
    if (values.check === true) {
      io.out(`${file}: ok\n`);
      return 0;
    }
    if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, io);
    return runWorker(file, config, io, cluster.isWorker);
  },
};
