/**
 * `lifeline probe URL`: measure how a server keeps connections alive and say whether the
 * component in front will race it. Parsing and output only; the work is in lifeline/probe.
 */
import { readFileSync } from 'node:fs';
import { InvalidOptionError } from '../../core/errors.js';
import { probe } from '../../probe/probe.js';
import { BEHIND_PRESETS, MEASUREMENTS } from '../../probe/probe-options.js';
import type { BehindPreset, MeasurementName, ProbeOptions } from '../../probe/probe-options.js';
import { ProbeProgress } from '../../probe/progress.js';
import { ProbeUnreachableError, ProbeUrlError } from '../../probe/probe-errors.js';
import { formatJson, formatProgress, formatTable } from '../../probe/report.js';
import { UsageError, parseDurationMs, parseFlags } from '../command.js';
import type { CliIo, Command } from '../command.js';

const HELP = `lifeline probe: measure how a server keeps connections alive

Usage:
  lifeline probe URL [--behind PRESET|DURATION] [--max-wait 10m] [--json] [--only LIST]

Options:
  --behind X        the component in front of the server: ${Object.keys(BEHIND_PRESETS).join(', ')},
                    or its idle timeout (45s, 4m, 3000ms; a bare number is ms)
  --max-wait D      the longest any one measurement waits for the server (default 10m)
  --json            every figure as JSON, units in the key names
  --only LIST       comma-separated: ${MEASUREMENTS.join(', ')}
  --max-requests N  most requests on one connection for the request limit (default 10000)
  --ca FILE         trust this CA (PEM) as well, for a private certificate
  --insecure, -k    do not verify the server's certificate

Measurements run in parallel, so the run takes about as long as the slowest (at most
--max-wait, plus a few seconds). Exit 0 when measured, 1 when a verdict says something will
race the server's close or the URL cannot be reached (one line says why), 2 for a usage error.
`;

function parseBehind(text: string): BehindPreset | number {
  if (Object.hasOwn(BEHIND_PRESETS, text)) return text as BehindPreset;
  if (/^\d/.test(text)) return Math.max(1, parseDurationMs('--behind', text));
  throw new UsageError(`--behind must be one of ${Object.keys(BEHIND_PRESETS).join(', ')} or a duration such as 45s; got '${text}'`);
}

function parseOnly(values: readonly string[]): MeasurementName[] {
  const out: MeasurementName[] = [];
  for (const name of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')) {
    if (!(MEASUREMENTS as readonly string[]).includes(name)) throw new UsageError(`--only: unknown measurement '${name}'; known: ${MEASUREMENTS.join(', ')}`);
    out.push(name as MeasurementName);
  }
  if (out.length === 0) throw new UsageError('--only needs at least one measurement');
  return out;
}

/** Redraw one line per running measurement on stderr (a TTY only); `stop()` erases them. */
function liveProgress(progress: ProbeProgress, io: CliIo): { stop(): void } {
  let drawn = 0;
  const draw = (): void => {
    const lines = formatProgress(progress.snapshot(), performance.now());
    const columns = process.stderr.columns ?? 0;
    const width = columns > 0 ? columns : 100;
    let text = drawn > 0 ? `\x1b[${drawn}A` : '';
    text += '\r\x1b[J';
    for (const line of lines) text += `${line.slice(0, Math.max(20, width - 1))}\n`;
    drawn = lines.length;
    io.err(text);
  };
  const timer = setInterval(draw, 250);
  timer.unref();
  return {
    stop(): void {
      clearInterval(timer);
      if (drawn > 0) io.err(`\x1b[${drawn}A\r\x1b[J`);
      drawn = 0;
    },
  };
}

export const probeCommand: Command = {
  name: 'probe',
  summary: "measure a server's idle timeout, Keep-Alive hint, request limit, slow-client bounds, TLS and HTTP/2 keep-alive",
  help: HELP,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags({
      args: [...argv],
      options: {
        behind: { type: 'string' },
        'max-wait': { type: 'string' },
        json: { type: 'boolean' },
        only: { type: 'string', multiple: true },
        'max-requests': { type: 'string' },
        ca: { type: 'string' },
        insecure: { type: 'boolean', short: 'k' },
      },
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the URL to probe' : `give one URL; got ${positionals.length}`);
    const options: ProbeOptions = {};
    if (values.behind !== undefined) options.behind = parseBehind(values.behind);
    if (values['max-wait'] !== undefined) options.maxWaitMs = parseDurationMs('--max-wait', values['max-wait']);
    if (values.only !== undefined) options.only = parseOnly(values.only);
    if (values['max-requests'] !== undefined) {
      if (!/^\d+$/.test(values['max-requests'])) throw new UsageError(`--max-requests must be a whole number; got '${values['max-requests']}'`);
      options.maxRequests = Number(values['max-requests']);
    }
    if (values.ca !== undefined) {
      try {
        options.ca = readFileSync(values.ca);
      } catch (error) {
        throw new UsageError(`--ca: cannot read '${values.ca}': ${(error as { code?: string }).code ?? String(error)}`);
      }
    }
    if (values.insecure === true) options.insecure = true;
    const progress = new ProbeProgress();
    options.progress = progress;
    const live = process.stderr.isTTY ? liveProgress(progress, io) : undefined;
    try {
      const result = await probe(positionals[0]!, options);
      live?.stop();
      io.out(values.json === true ? formatJson(result) : formatTable(result));
      return result.races ? 1 : 0;
    } catch (error) {
      live?.stop();
      if (error instanceof ProbeUrlError || error instanceof InvalidOptionError) throw new UsageError(error.message);
      if (error instanceof ProbeUnreachableError) {
        io.err(`lifeline probe: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
