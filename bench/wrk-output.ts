/**
 * Reads wrk's summary. A figure that is not in the output is an error naming what is missing (with
 * the start of the output), not a NaN in a results table: a wrk that failed, or printed another
 * format, must stop the benchmark.
 */
export interface WrkOutput {
  rps: number;
  requests: number;
  /** With --latency only, else NaN. */
  p50Ms: number;
  /** With --latency only, else NaN. */
  p99Ms: number;
  /** connect + read + write + timeout, from "Socket errors:" (0 when wrk prints none). */
  socketErrors: number;
  /** "Non-2xx or 3xx responses:" (0 when wrk prints none). */
  non2xx: number;
}

function toMs(text: string | undefined): number {
  const m = /([\d.]+)(us|ms|s|m)\b/.exec(text ?? '');
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

function required(out: string, pattern: RegExp, what: string): number {
  const text = pattern.exec(out)?.[1];
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value)) {
    throw new Error(`wrk output has no ${what} (pattern ${String(pattern)}); output: ${JSON.stringify(out.trim().slice(0, 300))}`);
  }
  return value;
}

export function parseWrkOutput(out: string): WrkOutput {
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: required(out, /Requests\/sec:\s+([\d.]+)/, 'Requests/sec'),
    requests: required(out, /(\d+) requests in/, '"N requests in"'),
    p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}
