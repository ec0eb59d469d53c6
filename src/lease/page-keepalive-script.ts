/**
 * The browser side of a web session kept alive while its page is open, served by the lease HTTP
 * API at `/lifeline/page-keepalive.js`. Plain ESM with no dependencies, so a page imports it
 * straight from the lease server.
 *
 * Rules: a keep-alive every `intervalMs` (default TTL/3) while the page is visible and every
 * `hiddenIntervalMs` (default TTL/2) while hidden, so a background tab still holds its session
 * but costs half the requests (browsers also throttle hidden timers; keep TTLs of a minute or more
 * for pages that may sit in the background for long); one at once when the page becomes visible
 * again; a release by `navigator.sendBeacon` on `pagehide`, so closing the tab ends the session
 * at once instead of one TTL later. The page is told `onLost` when the server says the lease is
 * gone, or when its own conservative deadline (request sent + remaining time) passes with no
 * answer.
 */
export const PAGE_KEEPALIVE_SCRIPT = String.raw`// lifeline page keep-alive: keeps a lease (a web session) alive while this page is open.
// import { keepLeaseAlive } from '/lifeline/page-keepalive.js';
// const session = keepLeaseAlive({ id, token, onUpdate: (s) => show(s.remainingMs), onLost: () => location.reload() });

/**
 * @param {object} options
 * @param {string} options.id              the lease id (a generated, unguessable one)
 * @param {number} options.token           the lease's token
 * @param {string} [options.api]           URL of the leases API; default: ../leases next to this script
 * @param {number} [options.intervalMs]    keep-alive period while visible; default TTL/3
 * @param {number} [options.hiddenIntervalMs] keep-alive period while hidden; default TTL/2
 * @param {number} [options.initialRemainingMs] time left when the page got the lease, until the first answer
 * @param {(state: {remainingMs: number, deadline: number, ttlMs: number, visible: boolean}) => void} [options.onUpdate]
 * @param {(reason: string) => void} [options.onLost]
 * @returns {{ stop(): void, release(): void, remainingMs(): number, deadline(): number }}
 */
export function keepLeaseAlive(options) {
  const id = String(options.id);
  const token = Number(options.token);
  const api = new URL(options.api ?? '../leases/', import.meta.url);
  if (!api.pathname.endsWith('/')) api.pathname += '/';
  const url = (suffix) => new URL(encodeURIComponent(id) + suffix, api).href;
  const body = JSON.stringify({ token });
  let ttlMs = 0;
  let deadline = performance.now() + (options.initialRemainingMs ?? 0);
  let timer;
  let inFlight = false;
  let stopped = false;

  const visible = () => document.visibilityState === 'visible';
  const period = () => {
    const base = ttlMs > 0 ? ttlMs : 3000;
    return visible() ? (options.intervalMs ?? Math.floor(base / 3)) : (options.hiddenIntervalMs ?? Math.floor(base / 2));
  };
  const schedule = (ms) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(keepAlive, ms);
  };
  const lost = (reason) => {
    if (stopped) return;
    stop();
    options.onLost?.(reason);
  };

  async function keepAlive() {
    if (stopped || inFlight) return;
    inFlight = true;
    const sentAt = performance.now();
    try {
      const res = await fetch(url('/keepalive'), { method: 'POST', body, headers: { 'content-type': 'application/json' }, keepalive: true });
      const answer = await res.json().catch(() => ({}));
      if (res.ok) {
        ttlMs = answer.ttlMs;
        deadline = sentAt + answer.remainingMs;
        options.onUpdate?.({ remainingMs: deadline - performance.now(), deadline, ttlMs, visible: visible() });
        schedule(period());
      } else if (res.status === 404 || res.status === 409 || res.status === 401) {
        lost(answer?.error?.code ?? 'HTTP ' + res.status);
      } else {
        retry();
      }
    } catch {
      retry();
    } finally {
      inFlight = false;
    }
  }

  function retry() {
    const left = deadline - performance.now();
    if (left <= 0) lost('deadline');
    else schedule(Math.min(1000, Math.max(50, left / 4)));
  }

  function onVisibility() {
    if (visible()) keepAlive();
    else schedule(period());
  }

  function onPageHide() {
    release();
  }

  function onPageShow(event) {
    if (event.persisted) {
      stopped = false;
      keepAlive();
    }
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  }

  /** End the session now (sendBeacon survives the page being torn down). */
  function release() {
    stop();
    const blob = new Blob([body], { type: 'text/plain' });
    if (!navigator.sendBeacon?.(url('/release'), blob)) {
      fetch(url('/release'), { method: 'POST', body, keepalive: true }).catch(() => {});
    }
  }

  document.addEventListener('visibilitychange', onVisibility);
  addEventListener('pagehide', onPageHide);
  addEventListener('pageshow', onPageShow);
  keepAlive();
  return {
    stop() {
      stop();
      removeEventListener('pagehide', onPageHide);
      removeEventListener('pageshow', onPageShow);
    },
    release,
    remainingMs: () => Math.max(0, deadline - performance.now()),
    deadline: () => deadline,
  };
}
`;
