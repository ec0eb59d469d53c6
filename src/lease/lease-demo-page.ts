/**
 * The demo page: one web session (a lease) kept alive by page-keepalive.js, with its remaining
 * time shown live. Served at `/lifeline/demo` only when the handler is built with `demo`; each
 * load grants a fresh lease without authentication, so it is for trying things out, not for
 * production.
 */
import type { Lease } from './lease-store.js';

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The HTML of the demo page for `lease`, importing the script from `scriptUrl`. */
export function demoPage(lease: Lease, scriptUrl: string, apiUrl: string): string {
  const config = JSON.stringify({ id: lease.id, token: lease.token, ttlMs: lease.ttlMs, api: apiUrl }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lifeline: page keep-alive demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }
  #remaining { font: 600 3rem/1.2 ui-monospace, monospace; }
  .lost { color: #b00020; }
  code { background: #f3f3f3; padding: 0 .25em; }
</style>
</head>
<body>
<h1>Page keep-alive</h1>
<p>This page holds lease <code id="lease-id" data-lease-id="${escape(lease.id)}">${escape(lease.id)}</code>
(TTL ${lease.ttlMs} ms). While it is open the lease is kept alive; close the tab and it is released at once.</p>
<div id="remaining" aria-live="off">&ndash;</div>
<p id="status">starting&hellip;</p>
<script type="module">
import { keepLeaseAlive } from ${JSON.stringify(scriptUrl)};
const config = ${config};
const remaining = document.getElementById('remaining');
const status = document.getElementById('status');
let lost = false;
const session = keepLeaseAlive({
  id: config.id, token: config.token, api: config.api, initialRemainingMs: config.ttlMs,
  onUpdate: (s) => { status.textContent = 'kept alive (' + (s.visible ? 'visible' : 'hidden') + ')'; status.dataset.renewals = String(Number(status.dataset.renewals ?? 0) + 1); },
  onLost: (reason) => { lost = true; status.textContent = 'lost: ' + reason; status.className = 'lost'; remaining.className = 'lost'; },
});
function frame() {
  remaining.textContent = lost ? 'expired' : (session.remainingMs() / 1000).toFixed(1) + ' s';
  requestAnimationFrame(frame);
}
frame();
window.lifelineSession = session;
</script>
</body>
</html>
`;
}
