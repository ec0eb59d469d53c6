// The lifeline admin dashboard: reads /events (Server-Sent Events) and draws tables and small
// canvas line charts. No dependencies, no build step; text goes in with textContent only.

const COLORS = ['#2563eb', '#16a34a', '#ca8a04', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#475569'];
const CLASS_COLORS = { '1xx': '#64748b', '2xx': '#16a34a', '3xx': '#2563eb', '4xx': '#ca8a04', '5xx': '#dc2626' };
const MAX_POINTS = 300;
const CLOSE_SERIES = 8;

/** Who ended a connection, by close reason: sent by the server from the one vocabulary. */
let sides = {};

const history = [];

const $ = (id) => document.getElementById(id);

function ms(v) {
  if (v === null || v === undefined) return null;
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  if (v < 3_600_000) return `${Math.floor(v / 60_000)} min ${Math.floor((v % 60_000) / 1000)} s`;
  return `${(v / 3_600_000).toFixed(1)} h`;
}

function cell(value, className) {
  const td = document.createElement('td');
  if (value === null || value === undefined) {
    td.textContent = 'n/a';
    td.className = 'na';
  } else td.textContent = String(value);
  if (className) td.className = (td.className ? `${td.className} ` : '') + className;
  return td;
}

function row(cells, attrs = {}) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs)) tr.setAttribute(k, v);
  for (const c of cells) tr.append(c instanceof HTMLElement ? c : cell(c));
  return tr;
}

function fill(tableId, rows, empty) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const td = cell(empty, 'na');
    td.colSpan = $(tableId).tHead.rows[0].cells.length;
    body.append(row([td]));
  }
}

function sideOf(reason) {
  return sides[reason] ?? 'unknown';
}

function renderState(s) {
  $('uptime').textContent = ms(s.uptimeSeconds * 1000);
  sides = s.closeSides;
  fill('listeners', s.listeners.map((l) => row([l.name, l.address, l.connections.active, l.connections.idle, l.connections.lingering, l.connections.draining], { 'data-listener': l.name })), 'no listener');

  const clusterRows = [];
  for (const c of s.clusters) {
    const available = c.endpoints.filter((e) => e.available).length;
    const head = cell(`${c.name}`);
    clusterRows.push(row([head, cell(`${available} of ${c.endpoints.length} available`, `health ${available > 0 ? 'healthy' : 'unhealthy'}`), '', '', '', '', '', '', ''], { class: 'cluster', 'data-cluster': c.name }));
    for (const e of c.endpoints) {
      // A failing active check says more than an ejection (which passive errors alone can cause).
      const health = !e.healthy ? 'unhealthy' : e.ejected ? 'ejected' : 'healthy';
      clusterRows.push(
        row([cell(e.endpoint, 'endpoint'), cell(health, `health ${health}`), e.idle, e.active, e.connecting, ms(e.backendIdleHintMs), ms(e.backendIdleLearnedMs), ms(e.poolIdleMs), e.requests], {
          'data-endpoint': e.endpoint,
          'data-health': health,
        }),
      );
    }
  }
  fill('clusters', clusterRows, 'no cluster');

  fill(
    'retries',
    s.clusters.map((c) => row([c.name, c.retries, c.retriesSucceeded, c.noHealthy, c.retryCauses === null ? null : Object.entries(c.retryCauses).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'])),
    'no cluster',
  );

  const closes = [];
  for (const layer of ['downstream', 'upstream']) {
    for (const [reason, n] of Object.entries(s.closes[layer])) if (n > 0) closes.push(row([layer, reason, sideOf(reason), n]));
  }
  fill('closes', closes, 'none yet');

  fill('oldest', s.oldest.map((c) => row([c.listener, ms(c.ageMs), c.state, c.requests, ms(c.idleRemainingMs)])), 'no open connection');
  fill('longest-idle', s.longestIdle.map((c) => row([c.listener, ms(c.ageMs), ms(c.idleMs), ms(c.idleRemainingMs)])), 'no idle connection');
}

function legend(id, series) {
  const el = $(id);
  if (!el) return;
  el.replaceChildren(
    ...series.map((s) => {
      const span = document.createElement('span');
      const dot = document.createElement('i');
      dot.style.background = s.color;
      span.append(dot, document.createTextNode(s.name));
      return span;
    }),
  );
}

/** A line chart of `series` ({ name, color, values }) over the shared time axis `times`. */
function chart(canvas, times, series) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 48;
  const bottom = 18;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = max <= 0 ? 1 : niceCeil(max);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#6a6f75';
  g.strokeStyle = '#e5e7eb';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(4 + ((h - bottom - 4) * i) / 4) + 0.5;
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(w, y);
    g.stroke();
    g.fillText(short(max * (1 - i / 4)), 2, y + 4);
  }
  if (times.length > 1) {
    const t0 = times[0];
    const span = Math.max(1, times[times.length - 1] - t0);
    g.fillText(`${Math.round(span / 1000)} s ago`, left, h - 4);
    g.fillText('now', w - 24, h - 4);
    for (const s of series) {
      g.strokeStyle = s.color;
      g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      for (let i = 0; i < times.length; i++) {
        const v = s.values[i];
        if (v === null || v === undefined) {
          pen = false;
          continue;
        }
        const x = left + ((w - left - 2) * (times[i] - t0)) / span;
        const y = 4 + (h - bottom - 4) * (1 - v / max);
        if (pen) g.lineTo(x, y);
        else g.moveTo(x, y);
        pen = true;
      }
      g.stroke();
    }
  }
}

/** The smallest round top (four equal, round steps) at or above v. */
function niceCeil(v) {
  const step = v / 4;
  const p = 10 ** Math.floor(Math.log10(step));
  for (const m of [1, 2, 2.5, 5, 10]) if (step <= m * p) return 4 * m * p;
  return 40 * p;
}

function short(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v >= 10 || v === 0 ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
}

function renderCharts() {
  const times = history.map((p) => p.t);
  chart($('chart-rps'), times, [{ name: 'req/s', color: COLORS[0], values: history.map((p) => p.rps) }]);
  const classes = Object.keys(CLASS_COLORS).map((c) => ({ name: c, color: CLASS_COLORS[c], values: history.map((p) => p.classes[c] ?? 0) }));
  chart($('chart-classes'), times, classes);
  legend('legend-classes', classes);
  const latency = [
    { name: 'p50', color: COLORS[1], values: history.map((p) => p.p50) },
    { name: 'p90', color: COLORS[2], values: history.map((p) => p.p90) },
    { name: 'p99', color: COLORS[3], values: history.map((p) => p.p99) },
  ];
  chart($('chart-latency'), times, latency);
  legend('legend-latency', latency);
  // The busiest reasons over the window, each a line; the rest are left out of the chart (the
  // table below lists every reason).
  const totals = new Map();
  for (const p of history) for (const [k, v] of Object.entries(p.closes)) totals.set(k, (totals.get(k) ?? 0) + v);
  const keys = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, CLOSE_SERIES).map(([k]) => k);
  const closes = keys.map((k, i) => {
    const [layer, reason] = k.split(':');
    return { name: `${layer} ${reason} (${sideOf(reason)})`, color: COLORS[i % COLORS.length], values: history.map((p) => p.closes[k] ?? 0) };
  });
  chart($('chart-closes'), times, closes);
  legend('legend-closes', closes);
}

function renderPoint(p) {
  $('rps').textContent = p.rps < 10 ? p.rps.toFixed(1) : String(Math.round(p.rps));
  $('rps').dataset.value = String(p.rps);
  for (const q of ['p50', 'p90', 'p99']) $(q).textContent = ms(p[q]) ?? 'n/a';
}

function connect() {
  const source = new EventSource('/events');
  const state = $('feed-state');
  source.addEventListener('open', () => {
    state.textContent = 'live';
    state.className = 'badge live';
  });
  source.addEventListener('error', () => {
    state.textContent = 'reconnecting';
    state.className = 'badge down';
  });
  source.addEventListener('history', (e) => {
    const data = JSON.parse(e.data);
    history.splice(0, history.length, ...data.history.slice(-MAX_POINTS));
    renderState(data.state);
    if (history.length > 0) renderPoint(history[history.length - 1]);
    renderCharts();
  });
  source.addEventListener('tick', (e) => {
    const data = JSON.parse(e.data);
    history.push(data.point);
    if (history.length > MAX_POINTS) history.shift();
    renderState(data.state);
    renderPoint(data.point);
    renderCharts();
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? '0') + 1);
  });
}

connect();
