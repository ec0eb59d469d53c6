import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { InvalidOptionError } from '../src/core/errors.js';
import { ProxyMetrics, UPSTREAM_CLOSE_REASONS } from '../src/proxy/metrics/index.js';

/** The value of one series in Prometheus text, or undefined if absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

const EP = 'cluster="web",endpoint="127.0.0.1:8081"';

test('upstream counters appear in the text output with cluster and endpoint labels', async () => {
  const metrics = new ProxyMetrics();
  const ep = metrics.cluster('web').endpoint('127.0.0.1:8081');
  ep.connectionOpened();
  ep.connectionOpened();
  ep.connectFailed();
  ep.requestSent(false);
  ep.requestSent(true);
  ep.requestSent(true);
  ep.connectionClosed('idle_timeout', 3);
  ep.connectionClosed('peer_close', 1);
  ep.destroyedByRemoteWithActiveRequest();
  ep.ejected();
  ep.setPool(4, 2);
  ep.setAvailable(false);
  const web = metrics.cluster('web');
  web.retry();
  web.retry();
  web.retrySucceeded();
  web.noHealthyUpstream();
  web.ejectionOverflow();

  const text = await metrics.text();
  assert.equal(sample(text, `lifeline_upstream_cx_total{${EP}}`), 2);
  assert.equal(sample(text, `lifeline_upstream_cx_connect_fail_total{${EP}}`), 1);
  assert.equal(sample(text, `lifeline_upstream_rq_total{${EP}}`), 3);
  assert.equal(sample(text, `lifeline_upstream_rq_reused_total{${EP}}`), 2);
  assert.equal(sample(text, `lifeline_upstream_cx_closed_total{${EP},reason="idle_timeout"}`), 1);
  assert.equal(sample(text, `lifeline_upstream_cx_closed_total{${EP},reason="peer_close"}`), 1);
  assert.equal(sample(text, `lifeline_upstream_cx_closed_total{${EP},reason="hint_expiry"}`), 0, 'every reason is exported, zeros included');
  for (const reason of UPSTREAM_CLOSE_REASONS) assert.notEqual(sample(text, `lifeline_upstream_cx_closed_total{${EP},reason="${reason}"}`), undefined, reason);
  assert.equal(sample(text, `lifeline_upstream_cx_destroy_remote_with_active_rq_total{${EP}}`), 1);
  assert.equal(sample(text, `lifeline_upstream_ejections_total{${EP}}`), 1);
  assert.equal(sample(text, `lifeline_upstream_cx_idle{${EP}}`), 4);
  assert.equal(sample(text, `lifeline_upstream_cx_active{${EP}}`), 2);
  assert.equal(sample(text, `lifeline_upstream_endpoint_available{${EP}}`), 0);
  assert.equal(sample(text, 'lifeline_upstream_rq_retry_total{cluster="web"}'), 2);
  assert.equal(sample(text, 'lifeline_upstream_rq_retry_success_total{cluster="web"}'), 1);
  assert.equal(sample(text, 'lifeline_upstream_rq_no_healthy_total{cluster="web"}'), 1);
  assert.equal(sample(text, 'lifeline_upstream_ejections_overflow_total{cluster="web"}'), 1);
  // requests-per-connection histogram: closes after 3 and after 1 request
  assert.equal(sample(text, `lifeline_upstream_rq_per_cx_bucket{${EP},le="1"}`), 1);
  assert.equal(sample(text, `lifeline_upstream_rq_per_cx_bucket{${EP},le="2"}`), 1);
  assert.equal(sample(text, `lifeline_upstream_rq_per_cx_bucket{${EP},le="4"}`), 2);
  assert.equal(sample(text, `lifeline_upstream_rq_per_cx_bucket{${EP},le="+Inf"}`), 2);
  assert.equal(sample(text, `lifeline_upstream_rq_per_cx_sum{${EP}}`), 4);
  assert.equal(sample(text, `lifeline_upstream_rq_per_cx_count{${EP}}`), 2);
  assert.match(text, /# TYPE lifeline_upstream_rq_per_cx histogram/);
  assert.match(text, /# TYPE lifeline_upstream_cx_total counter/);
  assert.match(text, /# TYPE lifeline_upstream_cx_idle gauge/);
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
});

test('downstream counters: accepted, active, closed by reason, status classes, duration, rejections by code', async () => {
  const metrics = new ProxyMetrics();
  const main = metrics.listener('main');
  main.connectionAccepted();
  main.connectionAccepted();
  main.connectionAccepted();
  main.connectionClosed('idle_timeout');
  main.request(200, 0.8);
  main.request(204, 3);
  main.request(502, 40);
  main.request(404, 2_000);
  main.rejected('ERR_HTTP_CL_TE');
  main.rejected('ERR_HTTP_CL_TE');
  main.rejected('ERR_HEADERS_TOO_LARGE');
  const text = await metrics.text();
  assert.equal(sample(text, 'lifeline_downstream_cx_total{listener="main"}'), 3);
  assert.equal(sample(text, 'lifeline_downstream_cx_active{listener="main"}'), 2);
  assert.equal(sample(text, 'lifeline_downstream_cx_closed_total{listener="main",reason="idle_timeout"}'), 1, 'server policy reasons in snake_case');
  assert.equal(sample(text, 'lifeline_downstream_cx_closed_total{listener="main",reason="headers_timeout"}'), 0);
  assert.equal(sample(text, 'lifeline_downstream_rq_total{listener="main",status_class="2xx"}'), 2);
  assert.equal(sample(text, 'lifeline_downstream_rq_total{listener="main",status_class="4xx"}'), 1);
  assert.equal(sample(text, 'lifeline_downstream_rq_total{listener="main",status_class="5xx"}'), 1);
  assert.equal(sample(text, 'lifeline_downstream_rq_rejected_total{listener="main",code="ERR_HTTP_CL_TE"}'), 2);
  assert.equal(sample(text, 'lifeline_downstream_rq_rejected_total{listener="main",code="ERR_HEADERS_TOO_LARGE"}'), 1);
  assert.equal(sample(text, 'lifeline_downstream_rq_duration_seconds_bucket{listener="main",le="0.001"}'), 1);
  assert.equal(sample(text, 'lifeline_downstream_rq_duration_seconds_bucket{listener="main",le="0.05"}'), 3);
  assert.equal(sample(text, 'lifeline_downstream_rq_duration_seconds_bucket{listener="main",le="+Inf"}'), 4);
  assert.equal(sample(text, 'lifeline_downstream_rq_duration_seconds_count{listener="main"}'), 4);
  assert.ok(Math.abs((sample(text, 'lifeline_downstream_rq_duration_seconds_sum{listener="main"}') ?? 0) - 2.0438) < 1e-9);
});

test('two instances do not collide, and neither touches the global registry', async () => {
  const before = (await globalRegistry.metrics()).length;
  const a = new ProxyMetrics();
  const b = new ProxyMetrics();
  a.cluster('web').endpoint('127.0.0.1:8081').connectionOpened();
  b.cluster('web').endpoint('127.0.0.1:8081').connectionOpened();
  b.cluster('web').endpoint('127.0.0.1:8081').connectionOpened();
  assert.equal(sample(await a.text(), `lifeline_upstream_cx_total{${EP}}`), 1);
  assert.equal(sample(await b.text(), `lifeline_upstream_cx_total{${EP}}`), 2);
  assert.notEqual(a.registry, b.registry);
  assert.equal((await globalRegistry.metrics()).length, before, 'the global registry is untouched');
  assert.equal(globalRegistry.getSingleMetric('lifeline_upstream_cx_total'), undefined);
});

test('a removed endpoint, cluster or listener disappears from the next scrape; others stay', async () => {
  const metrics = new ProxyMetrics();
  const web = metrics.cluster('web');
  web.endpoint('127.0.0.1:8081').connectionClosed('drain', 5);
  web.endpoint('127.0.0.1:8082').connectionOpened();
  metrics.cluster('api').endpoint('10.0.0.9:80').connectionOpened();
  metrics.listener('main').connectionAccepted();
  let text = await metrics.text();
  assert.ok(text.includes('endpoint="127.0.0.1:8081"'));
  assert.equal(web.removeEndpoint('127.0.0.1:8081'), true);
  text = await metrics.text();
  assert.ok(!text.includes('endpoint="127.0.0.1:8081"'), 'no series of the removed endpoint, histogram included');
  assert.equal(sample(text, 'lifeline_upstream_cx_total{cluster="web",endpoint="127.0.0.1:8082"}'), 1);
  metrics.removeCluster('api');
  metrics.removeListener('main');
  text = await metrics.text();
  assert.ok(!text.includes('cluster="api"'));
  assert.ok(!text.includes('listener="main"'));
  // a re-added endpoint starts from zero
  web.endpoint('127.0.0.1:8081').connectionOpened();
  assert.equal(sample(await metrics.text(), `lifeline_upstream_cx_total{${EP}}`), 1);
});

test('json() gives /stats a plain object with the same numbers', () => {
  const metrics = new ProxyMetrics();
  const ep = metrics.cluster('web').endpoint('127.0.0.1:8081');
  ep.connectionOpened();
  ep.requestSent(true);
  ep.connectionClosed('max_requests', 100);
  metrics.cluster('web').retry();
  metrics.listener('main').request(503, 5);
  const stats = metrics.json();
  const s = stats.upstream['web']?.endpoints['127.0.0.1:8081'];
  assert.equal(s?.cxOpened, 1);
  assert.equal(s?.rqReused, 1);
  assert.equal(s?.cxClosed.max_requests, 1);
  assert.equal(s?.rqPerCx.count, 1);
  assert.equal(stats.upstream['web']?.rqRetry, 1);
  assert.equal(stats.downstream['main']?.rq['5xx'], 1);
  assert.doesNotThrow(() => JSON.stringify(stats));
});

test('a custom prefix, and bad options named', async () => {
  const metrics = new ProxyMetrics({ prefix: 'edge_', durationBucketsSeconds: [0.01, 0.1, 1] });
  metrics.cluster('c').endpoint('e:1').connectionOpened();
  metrics.listener('l').request(200, 50);
  const text = await metrics.text();
  assert.equal(sample(text, 'edge_upstream_cx_total{cluster="c",endpoint="e:1"}'), 1);
  assert.equal(sample(text, 'edge_downstream_rq_duration_seconds_bucket{listener="l",le="0.1"}'), 1);
  assert.ok(!text.includes('lifeline_'));
  assert.throws(() => new ProxyMetrics({ prefix: 'bad-prefix' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'ProxyMetrics.prefix');
  assert.throws(() => new ProxyMetrics({ durationBucketsSeconds: [1, 0.5] }), /ascending/);
  assert.throws(() => new ProxyMetrics({ registry: 1 } as never), /ProxyMetrics.registry is not a known option/);
});

test('hot-path cost: an increment on a kept endpoint object is far cheaper than a prom-client child inc', () => {
  const metrics = new ProxyMetrics();
  const ep = metrics.cluster('web').endpoint('127.0.0.1:8081');
  const n = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) ep.requestSent(true);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  assert.equal(metrics.json().upstream['web']?.endpoints['127.0.0.1:8081']?.rqTotal, n);
  assert.ok(ns < 100, `requestSent() took ${ns.toFixed(1)} ns`);
});
