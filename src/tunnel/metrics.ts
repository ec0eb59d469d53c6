/**
 * Prometheus text exposition (format 0.0.4), written by hand.
 *
 * Why not prom-client: it is not a dependency of this package and the tunnel needs only counters
 * and gauges read from its own state at scrape time; the text format for those is a few lines.
 * Invariants: label values are escaped (backslash, quote, newline); names are not checked (they
 * are constants in this package); each family gets its HELP and TYPE lines once.
 */

export interface MetricSample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: readonly MetricSample[];
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * @example
 *   prometheusText([{ name: 'lifeline_tunnel_sessions', help: 'Open sessions', type: 'gauge', samples: [{ value: 3 }] }])
 *   // # HELP lifeline_tunnel_sessions Open sessions\n# TYPE lifeline_tunnel_sessions gauge\nlifeline_tunnel_sessions 3\n
 */
export function prometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\n/g, ' ')}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const entries = Object.entries(s.labels ?? {});
      const labels = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
      const value = Number.isFinite(s.value) ? String(s.value) : s.value > 0 ? '+Inf' : s.value < 0 ? '-Inf' : 'NaN';
      lines.push(`${f.name}${labels} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Counts keyed by a label value, as one sample each. */
export function countSamples(label: string, counts: ReadonlyMap<string, number>): MetricSample[] {
  return [...counts].map(([value, n]) => ({ labels: { [label]: value }, value: n }));
}
