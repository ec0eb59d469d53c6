// The tunnel's admin page: reads /events (the server's or client's status about once a second)
// and draws tables and two small canvas charts. No dependencies; text goes in with textContent.

const MAX_POINTS = 300;
const history = [];
let previous;

const $ = (id) => document.getElementById(id);

function ms(v) {
  if (v === null || v === undefined) return null;
  if (v < 1000) return `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  if (v < 3_600_000) return `${Math.floor(v / 60_000)} min ${Math.floor((v % 60_000) / 1000)} s`;
  return `${(v / 3_600_000).toFixed(1)} h`;
}

function bytes(v) {
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} GB`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} MB`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} kB`;
  return `${v} B`;
}

function row(cells, attrs = {}) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs)) tr.setAttribute(k, v);
  for (const c of cells) {
    const td = document.createElement('td');
    if (c === null || c === undefined) {
      td.textContent = 'n/a';
      td.className = 'na';
    } else td.textContent = String(c);
    tr.append(td);
  }
  return tr;
}

function fill(id, rows, empty) {
  const body = $(id).tBodies[0];
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = row([empty]);
    tr.cells[0].colSpan = $(id).tHead.rows[0].cells.length;
    tr.cells[0].className = 'na';
    body.append(tr);
  }
}

function counts(id, record) {
  fill(id, Object.entries(record ?? {}).map(([k, v]) => row([k, v])), 'none');
}

function isServer(s) {
  return Array.isArray(s.sessions);
}

function render(s) {
  const server = isServer(s);
  $('role').textContent = server ? 'server' : 'client';
  $('server-view').hidden = !server;
  $('client-view').hidden = server;
  if (server) {
    const open = s.sessions.filter((x) => x.state === 'open').length;
    const where = s.listening === null ? 'not listening' : `${s.listening.host}:${s.listening.port}`;
    $('summary').textContent = `${where} (${s.transport}) · ${open} open sessions · ping every ${ms(s.pingIntervalMs)}, dropped after ${ms(s.clientTimeoutMs)} of silence`;
    fill(
      'sessions',
      s.sessions.map((x) =>
        row([x.id, x.name, x.remote, x.transport, x.state, x.rttMs === null ? null : ms(x.rttMs), x.lastPingAgoMs === null || x.lastPingAgoMs === undefined ? null : `${ms(x.lastPingAgoMs)} ago`, x.streams, bytes(x.bytesFromClient), bytes(x.bytesToClient), x.reconnects, ms(x.connectedForMs)], { 'data-session': String(x.id) }),
      ),
      'no session',
    );
    counts('closes', s.totals.closes);
    counts('refused', s.totals.streamsRefused);
  } else {
    $('summary').textContent = `${s.state} to ${s.server}`;
    fill('client', [row([s.state, s.server, s.address, s.sessionId, s.rttMs === null ? null : ms(s.rttMs), s.streams, bytes(s.bytesSent), bytes(s.bytesReceived), s.reconnects, s.attempts], { 'data-state': s.state })], 'no session');
    fill('entries', s.entryPoints.map((e) => row([e.kind, e.address, e.connections])), 'no entry point');
  }
}

/** Totals and RTTs of one status, for the charts. */
function point(s) {
  if (isServer(s)) {
    const rtts = s.sessions.filter((x) => x.rttMs !== null).map((x) => x.rttMs);
    return { t: Date.now(), a: s.totals.bytesFromClients, b: s.totals.bytesToClients, rtt: rtts.length === 0 ? null : Math.max(...rtts) };
  }
  return { t: Date.now(), a: s.bytesSent, b: s.bytesReceived, rtt: s.rttMs };
}

function chart(canvas, times, series) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(h * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  const left = 52;
  const bottom = 18;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  if (max <= 0) max = 1;
  const step = max / 4;
  const p = 10 ** Math.floor(Math.log10(step));
  max = 4 * ([1, 2, 2.5, 5, 10].find((m) => step <= m * p) ?? 10) * p;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#6a6f75';
  g.strokeStyle = '#e5e7eb';
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(4 + ((h - bottom - 4) * i) / 4) + 0.5;
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(w, y);
    g.stroke();
    const v = max * (1 - i / 4);
    g.fillText(v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : String(Number(v.toPrecision(3))), 2, y + 4);
  }
  if (times.length < 2) return;
  const t0 = times[0];
  const span = Math.max(1, times[times.length - 1] - t0);
  g.fillText(`${Math.round(span / 1000)} s ago`, left, h - 4);
  g.fillText('now', w - 24, h - 4);
  for (const s of series) {
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.beginPath();
    let pen = false;
    times.forEach((t, i) => {
      const v = s.values[i];
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      const x = left + ((w - left - 2) * (t - t0)) / span;
      const y = 4 + (h - bottom - 4) * (1 - v / max);
      if (pen) g.lineTo(x, y);
      else g.moveTo(x, y);
      pen = true;
    });
    g.stroke();
  }
}

function legend(id, series) {
  $(id).replaceChildren(
    ...series.map((s) => {
      const span = document.createElement('span');
      const dot = document.createElement('i');
      dot.style.background = s.color;
      span.append(dot, document.createTextNode(s.name));
      return span;
    }),
  );
}

function onStatus(s) {
  render(s);
  const now = point(s);
  if (previous !== undefined) {
    const seconds = Math.max(0.001, (now.t - previous.t) / 1000);
    history.push({ t: now.t, a: Math.max(0, now.a - previous.a) / seconds, b: Math.max(0, now.b - previous.b) / seconds, rtt: now.rtt });
    if (history.length > MAX_POINTS) history.shift();
  }
  previous = now;
  const server = isServer(s);
  const times = history.map((p) => p.t);
  const flows = [
    { name: server ? 'from clients' : 'sent', color: '#2563eb', values: history.map((p) => p.a) },
    { name: server ? 'to clients' : 'received', color: '#16a34a', values: history.map((p) => p.b) },
  ];
  chart($('chart-bytes'), times, flows);
  legend('legend-bytes', flows);
  const rtt = [{ name: server ? 'highest session RTT' : 'RTT', color: '#dc2626', values: history.map((p) => p.rtt) }];
  chart($('chart-rtt'), times, rtt);
  legend('legend-rtt', rtt);
  document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? '0') + 1);
}

const source = new EventSource('/events');
source.addEventListener('open', () => {
  $('feed-state').textContent = 'live';
  $('feed-state').className = 'badge live';
});
source.addEventListener('error', () => {
  $('feed-state').textContent = 'reconnecting';
  $('feed-state').className = 'badge down';
});
source.addEventListener('status', (e) => onStatus(JSON.parse(e.data)));
