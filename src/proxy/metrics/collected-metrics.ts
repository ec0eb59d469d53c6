/**
 * prom-client metrics whose values are read from lifeline's own counters at scrape time.
 *
 * Why: the proxy's hot path increments plain number fields (about 1 ns). prom-client's own
 * `inc()`, even on a child from `counter.labels(...)` kept for reuse, re-validates and re-hashes
 * the label set on every call (measured ~350 ns per increment here; at 30,000 req/s and five
 * counters a request that is 5 % of a core). So prom-client is the registry and the exposition
 * format (names, HELP, TYPE, escaping, content type), and values are copied in once per scrape.
 *
 * Counters and gauges use only prom-client's public API: `collect()` resets the metric and
 * re-adds every live series, so a removed endpoint simply stops appearing. Histograms have no
 * public way to load bucket counts, so `CollectedHistogram` overrides `get()` (and
 * `getForPromString()`, which the registry prefers when present) to return the same
 * `{ name, help, type, values, aggregator }` shape prom-client's Histogram produces. The text
 * output tests pin that shape, so a prom-client upgrade that changes it fails loudly.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { BucketHistogram } from './bucket-histogram.js';

type Labels = Record<string, string>;

/** One series: its labels and its current value. */
export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  histogram: BucketHistogram;
}

interface Definition<S> {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
  /** Called at every scrape: every live series, with its value now. */
  read: () => Iterable<S>;
}

/** A counter filled from `read()` at each scrape. */
export function collectedCounter(def: Definition<Sample>): Counter<string> {
  const counter: Counter<string> = new Counter<string>({
    name: def.name,
    help: def.help,
    labelNames: def.labelNames,
    registers: [def.registry],
    collect() {
      counter.reset();
      for (const s of def.read()) counter.inc(s.labels, s.value);
    },
  });
  return counter;
}

/** A gauge filled from `read()` at each scrape. */
export function collectedGauge(def: Definition<Sample>): Gauge<string> {
  const gauge: Gauge<string> = new Gauge<string>({
    name: def.name,
    help: def.help,
    labelNames: def.labelNames,
    registers: [def.registry],
    collect() {
      gauge.reset();
      for (const s of def.read()) gauge.set(s.labels, s.value);
    },
  });
  return gauge;
}

type HistogramData = Awaited<ReturnType<Histogram<string>['get']>>;
type HistogramValue = HistogramData['values'][number];

/** A histogram read from `BucketHistogram`s at each scrape. */
export class CollectedHistogram extends Histogram<string> {
  readonly #def: Definition<HistogramSample>;

  constructor(def: Definition<HistogramSample>, buckets: readonly number[]) {
    super({ name: def.name, help: def.help, labelNames: def.labelNames, buckets: [...buckets], registers: [def.registry] });
    this.#def = def;
  }

  override get(): Promise<HistogramData> {
    return Promise.resolve(this.#snapshot());
  }

  /** The registry calls this (when present) for the text format; same data. */
  getForPromString(): Promise<HistogramData> {
    return Promise.resolve(this.#snapshot());
  }

  #snapshot(): HistogramData {
    const name = this.#def.name;
    const values: HistogramValue[] = [];
    for (const { labels, histogram } of this.#def.read()) {
      let cumulative = 0;
      for (let i = 0; i < histogram.bounds.length; i++) {
        cumulative += histogram.bucket(i);
        values.push({ labels: { ...labels, le: histogram.bounds[i] }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: histogram.count, metricName: `${name}_bucket` });
      values.push({ labels, value: histogram.sum, metricName: `${name}_sum` });
      values.push({ labels, value: histogram.count, metricName: `${name}_count` });
    }
    return {
      name,
      help: this.#def.help,
      // prom-client's typings say MetricType (an enum); at run time every metric's type is its name.
      type: 'histogram' as unknown as HistogramData['type'],
      values,
      aggregator: 'sum',
      collect: () => undefined,
    };
  }
}
