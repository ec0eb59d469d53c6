/**
 * The tunnel's Prometheus metrics, through prom-client (the package's metrics library, as the
 * proxy's): each `TunnelServer` / `TunnelClient` owns a `MetricsRegistry` (never prom-client's
 * global registry) whose metrics are read from the owner's state at scrape time; prom-client
 * writes the exposition (names, HELP, TYPE, label escaping, +Inf, content type).
 *
 * Why a metric subclass rather than `counter.inc()`: the values are totals the tunnel already
 * keeps, read once per scrape; a counter cannot be set to a total (and refuses +Inf), so each
 * family overrides `get()` to return its samples, as the proxy's histograms do.
 */
import { Gauge, Registry } from 'prom-client';

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

/** A family's name, help, type and label names, fixed when the registry is made. */
export type MetricDefinition = Omit<MetricFamily, 'samples'> & { labelNames: readonly string[] };

type GaugeData = Awaited<ReturnType<Gauge<string>['get']>>;

/** One family whose samples come from `read()` at each scrape. */
class FamilyMetric extends Gauge<string> {
  readonly #def: MetricDefinition;
  readonly #read: () => readonly MetricSample[];

  constructor(def: MetricDefinition, registry: Registry, read: () => readonly MetricSample[]) {
    super({ name: def.name, help: def.help, labelNames: def.labelNames, registers: [registry] });
    this.#def = def;
    this.#read = read;
  }

  override get(): Promise<GaugeData> {
    return Promise.resolve({
      name: this.#def.name,
      help: this.#def.help,
      // prom-client's typings say MetricType (an enum); at run time every metric's type is its name.
      type: this.#def.type as unknown as GaugeData['type'],
      values: this.#read().map((s) => ({ labels: { ...(s.labels ?? {}) }, value: s.value })),
      aggregator: 'sum',
      collect: () => undefined,
    });
  }
}

/**
 * @example
 *   const metrics = new MetricsRegistry(SERVER_METRICS, () => server.families());
 *   admin.get('/metrics', async (res) => res.type(metrics.contentType).send(await metrics.text()));
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  readonly definitions: readonly MetricDefinition[];
  readonly #read: () => readonly MetricFamily[];
  /** The families of the scrape in progress: read once, not once per family. */
  #scrape: Map<string, MetricFamily> | undefined;

  constructor(definitions: readonly MetricDefinition[], read: () => readonly MetricFamily[]) {
    this.definitions = definitions;
    this.#read = read;
    for (const def of definitions) {
      new FamilyMetric(def, this.registry, () => (this.#scrape ?? this.#families()).get(def.name)?.samples ?? []);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    this.#scrape = this.#families();
    try {
      return await this.registry.metrics();
    } finally {
      this.#scrape = undefined;
    }
  }

  #families(): Map<string, MetricFamily> {
    return new Map(this.#read().map((f) => [f.name, f]));
  }
}

/**
 * The text of `families` at once, through a registry made for them.
 *
 * @example
 *   await prometheusText([{ name: 'lifeline_tunnel_sessions', help: 'Open sessions', type: 'gauge', samples: [{ value: 3 }] }])
 *   // # HELP lifeline_tunnel_sessions Open sessions\n# TYPE lifeline_tunnel_sessions gauge\nlifeline_tunnel_sessions 3\n
 */
export function prometheusText(families: readonly MetricFamily[]): Promise<string> {
  const definitions = families.map((f) => ({ name: f.name, help: f.help, type: f.type, labelNames: [...new Set(f.samples.flatMap((s) => Object.keys(s.labels ?? {})))] }));
  return new MetricsRegistry(definitions, () => families).text();
}

/** Counts keyed by a label value, as one sample each. */
export function countSamples(label: string, counts: ReadonlyMap<string, number>): MetricSample[] {
  return [...counts].map(([value, n]) => ({ labels: { [label]: value }, value: n }));
}

/** Every metric of a tunnel server, in scrape order (docs/metrics.md lists the same). */
export const SERVER_METRICS: readonly MetricDefinition[] = [
  { name: 'lifeline_tunnel_sessions', help: 'Tunnel sessions now open (authenticated).', type: 'gauge', labelNames: [] },
  { name: 'lifeline_tunnel_streams', help: 'Streams now open over all sessions.', type: 'gauge', labelNames: [] },
  { name: 'lifeline_tunnel_sessions_opened_total', help: 'Sessions authenticated since start.', type: 'counter', labelNames: [] },
  { name: 'lifeline_tunnel_session_closes_total', help: 'Sessions ended, by close reason and the layer that noticed.', type: 'counter', labelNames: ['reason', 'layer'] },
  { name: 'lifeline_tunnel_streams_opened_total', help: 'Streams opened to destinations.', type: 'counter', labelNames: [] },
  { name: 'lifeline_tunnel_streams_refused_total', help: 'Stream opens refused, by reason.', type: 'counter', labelNames: ['reason'] },
  { name: 'lifeline_tunnel_bytes_total', help: 'Stream payload bytes relayed, by direction.', type: 'counter', labelNames: ['direction'] },
  { name: 'lifeline_tunnel_ping_rtt_seconds', help: "Each session's last ping round trip as reported by the client.", type: 'gauge', labelNames: ['session', 'name'] },
  { name: 'lifeline_tunnel_pings_limited_total', help: 'Pings not answered because the client pinged too fast (open sessions).', type: 'counter', labelNames: [] },
];

/** Every metric of a tunnel client (docs/metrics.md lists the same). */
export const CLIENT_METRICS: readonly MetricDefinition[] = [
  { name: 'lifeline_tunnel_client_connected', help: '1 while a session is up.', type: 'gauge', labelNames: [] },
  { name: 'lifeline_tunnel_client_reconnects_total', help: 'Sessions re-established after the first.', type: 'counter', labelNames: [] },
  { name: 'lifeline_tunnel_client_connect_attempts_total', help: 'Connection attempts.', type: 'counter', labelNames: [] },
  { name: 'lifeline_tunnel_client_streams', help: 'Open streams.', type: 'gauge', labelNames: [] },
  { name: 'lifeline_tunnel_client_ping_rtt_seconds', help: 'Last ping round trip.', type: 'gauge', labelNames: [] },
  { name: 'lifeline_tunnel_client_bytes_total', help: 'Stream payload bytes, by direction.', type: 'counter', labelNames: ['direction'] },
  { name: 'lifeline_tunnel_client_disconnects_total', help: 'Welcomed sessions ended, by close reason and the layer that noticed.', type: 'counter', labelNames: ['reason', 'layer'] },
];

/** A family of `definitions` by name, with its samples. */
export function family(definitions: readonly MetricDefinition[], name: string, samples: readonly MetricSample[]): MetricFamily {
  const def = definitions.find((d) => d.name === name);
  if (def === undefined) throw new RangeError(`no metric named ${name}`);
  return { name: def.name, help: def.help, type: def.type, samples };
}
