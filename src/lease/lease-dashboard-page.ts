/**
 * The lease dashboard at `/lifeline/leases`: how many leases are live and the soonest to expire,
 * with holder, fencing token and time left, updated about once a second. The page holds no
 * secret: it asks for the API's bearer token (kept in sessionStorage for the tab) and reads
 * `/lifeline/events` with it, a Server-Sent Events stream read by fetch (EventSource cannot send
 * an Authorization header).
 */

/** How many leases the page lists (the soonest to expire). */
export const DASHBOARD_LEASES = 50;

/** The page, calling the API under `base` (the handler's basePath). */
export function leaseDashboardPage(base: string): string {
  const config = JSON.stringify({ events: `${base}/lifeline/events` }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lifeline leases</title>
<link rel="icon" href="data:,">
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #fbfbfa; color: #1d1f21; }
  header { display: flex; gap: 1.5em; align-items: baseline; padding: .8em 1.2em; border-bottom: 1px solid #dcdfe3; background: #fff; }
  h1 { font-size: 1.15em; margin: 0; }
  main { padding: .5em 1.2em; }
  .badge { padding: .1em .6em; border-radius: 1em; background: #dcdfe3; font-size: .85em; }
  .live { background: #d8f0de; color: #1f7a3a; } .down { background: #f7dcda; color: #b3261e; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dcdfe3; margin-top: .8em; }
  th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #dcdfe3; font-variant-numeric: tabular-nums; }
  th { color: #6a6f75; font-weight: 500; font-size: .85em; }
  .na { color: #6a6f75; } .soon { color: #b3261e; font-weight: 600; }
  form { margin: 2em 0; max-width: 24em; } input, button { font: inherit; padding: .4em; width: 100%; box-sizing: border-box; margin: .3em 0; }
</style>
</head>
<body>
<header><h1>lifeline leases</h1><span id="feed-state" class="badge">signed out</span><span><b id="count">n/a</b> live leases</span></header>
<main>
<form id="login" hidden><label>API token (the lease API's bearer token) <input type="password" name="token" autocomplete="current-password"></label><button>Show leases</button><p id="login-error" role="alert"></p></form>
<table id="leases"><thead><tr><th>lease</th><th>holder</th><th>fencing token</th><th>time left</th><th>TTL</th></tr></thead><tbody></tbody></table>
<p class="na">The ${DASHBOARD_LEASES} leases soonest to expire; updated about once a second.</p>
</main>
<script type="module">
const config = ${config};
const $ = (id) => document.getElementById(id);
const ms = (v) => (v < 1000 ? v + ' ms' : v < 60000 ? (v / 1000).toFixed(1) + ' s' : Math.floor(v / 60000) + ' min ' + Math.floor((v % 60000) / 1000) + ' s');
function cell(text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; }
function render(o) {
  $('count').textContent = String(o.count);
  const rows = o.leases.map((l) => {
    const tr = document.createElement('tr');
    tr.dataset.lease = l.id;
    tr.append(cell(l.id), l.holder === undefined ? cell('n/a', 'na') : cell(l.holder), cell(String(l.token)), cell(ms(l.remainingMs), l.remainingMs < l.ttlMs / 5 ? 'soon' : ''), cell(ms(l.ttlMs)));
    return tr;
  });
  if (rows.length === 0) { const tr = document.createElement('tr'); const td = cell('no lease', 'na'); td.colSpan = 5; tr.append(td); rows.push(tr); }
  $('leases').tBodies[0].replaceChildren(...rows);
  document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? '0') + 1);
}
function state(text, cls) { $('feed-state').textContent = text; $('feed-state').className = 'badge ' + cls; }
async function stream(token) {
  const res = await fetch(config.events, { headers: { authorization: 'Bearer ' + token } });
  if (res.status === 401) { sessionStorage.removeItem('lifeline-lease-token'); $('login').hidden = false; $('login-error').textContent = 'Wrong token.'; state('signed out', 'down'); return false; }
  if (!res.ok || res.body === null) throw new Error('events: HTTP ' + res.status);
  $('login').hidden = true;
  state('live', 'live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return true;
    buffer += value;
    for (let end = buffer.indexOf('\\n\\n'); end !== -1; end = buffer.indexOf('\\n\\n')) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n');
      if (data !== '') render(JSON.parse(data));
    }
  }
}
async function run(token) {
  // Reconnect after a dropped stream (a restart), a bounded number of times per page load.
  for (let attempt = 0; attempt < 1000; attempt++) {
    try { if (!(await stream(token))) return; } catch { state('reconnecting', 'down'); }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = new FormData(e.target).get('token');
  sessionStorage.setItem('lifeline-lease-token', token);
  run(token);
});
const saved = sessionStorage.getItem('lifeline-lease-token');
if (saved === null) $('login').hidden = false; else run(saved);
</script>
</body>
</html>
`;
}
