/**
 * Config templates for bench/http2's native and lifeline fronts, written into the run's temp dir
 * with the ports picked at run time. Every front gets what bench/proxy gives its proxies (75 s
 * client keep-alive, no cap on requests per connection, upstream keep-alive to the HTTP/1.1
 * backend, no access log, one process doing the work) and the same HTTP/2 limit: 128 concurrent
 * streams per connection (nginx's default; HAProxy's is 100, lifeline's is 128).
 *
 * Upstream idle caps are raised to UPSTREAM_IDLE (nginx `keepalive`, lifeline
 * `pool.maxIdlePerEndpoint`, http2-proxy's agent `maxFreeSockets`; HAProxy keeps every idle
 * server connection by default). h2load's 50 clients x 10 streams put 500 requests in flight,
 * each on an HTTP/1.1 backend connection of its own; with bench/proxy's 64 (nginx's and
 * lifeline's usual setting) every burst above 64 closes connections it must reopen a moment later:
 * 400-650 new backend connections per 1,000 requests in a quick run, so the tables would measure
 * connection setup, not the HTTP/2 front. The throughput tables show the rate that remains.
 */

/** Idle HTTP/1.1 backend connections a front may keep: above the 500 requests h2load keeps in flight. */
export const UPSTREAM_IDLE = 512;
import { LARGE_PATH, SMALL_BODY } from '../proxy/configs.js';

/** How a client reaches a front: HTTP/2 in clear with prior knowledge, or TLS with ALPN h2. */
export type Mode = 'h2c' | 'tls';

export interface Tls {
  certFile: string;
  keyFile: string;
  /** Certificate and key in one file, as HAProxy's `crt` wants. */
  pemFile: string;
}

const tempPaths = (dir: string, tag: string): string =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${tag}-${t};`).join(' ');

/** nginx 1.22's spelling: `listen ... http2` (h2c prior knowledge) or `listen ... ssl http2`. */
function nginxListen(port: number, mode: Mode, tls: Tls): string {
  if (mode === 'h2c') return `listen 127.0.0.1:${port} http2 backlog=4096;`;
  return `listen 127.0.0.1:${port} ssl http2 backlog=4096;
    ssl_certificate ${tls.certFile};
    ssl_certificate_key ${tls.keyFile};`;
}

/** nginx as the HTTP/2 front: 1 worker, HTTP/1.1 upstream keepalive, as bench/proxy's nginx but for the idle cap. */
export function frontNginx(dir: string, port: number, backendPort: number, mode: Mode, tls: Tls): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/front-nginx-${port}.pid;
error_log ${dir}/front-nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  http2_max_concurrent_streams 128;
  ${tempPaths(dir, 'front-nginx')}
  proxy_max_temp_file_size 0;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive ${UPSTREAM_IDLE};
    keepalive_requests 100000000;
    keepalive_timeout 60s;
  }
  server {
    ${nginxListen(port, mode, tls)}
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy as the HTTP/2 front: `proto h2` for h2c, `alpn h2,http/1.1` for TLS; nbthread 1. */
export function frontHaproxy(port: number, backendPort: number, mode: Mode, tls: Tls): string {
  const bind = mode === 'h2c' ? `bind 127.0.0.1:${port} proto h2` : `bind 127.0.0.1:${port} ssl crt ${tls.pemFile} alpn h2,http/1.1`;
  return `global
  nbthread 1
  maxconn 12000
  tune.h2.max-concurrent-streams 128
  # As bench/proxy: under this machine's hard limit of 20,000 fds HAProxy would refuse to start.
  no strict-limits
defaults
  mode http
  maxconn 12000
  option http-keep-alive
  http-reuse safe
  timeout connect 5s
  timeout client 75s
  timeout server 60s
  timeout http-request 60s
  timeout http-keep-alive 75s
frontend bench
  ${bind}
  default_backend backend
backend backend
  server b1 127.0.0.1:${backendPort}
`;
}

/** lifeline: one listener (h2c by prior knowledge on `http`, h2 by ALPN on `https`), one cluster. */
export function frontLifeline(port: number, backendPort: number, mode: Mode, tls: Tls, clusterExtra = ''): string {
  const listener =
    mode === 'h2c'
      ? `    protocol: http
    http2PriorKnowledge: true`
      : `    protocol: https
    http2: true
    tls:
      certFile: ${tls.certFile}
      keyFile: ${tls.keyFile}`;
  return `listeners:
  - name: bench
    address: 127.0.0.1:${port}
${listener}
    routes:
      - cluster: backend
client:
  idleTimeoutMs: 75000
  maxRequestsPerConnection: 0
  maxConnections: 20000
  http2:
    maxConcurrentStreams: 128
clusters:
  backend:
${clusterExtra}    pool:
      maxIdlePerEndpoint: ${UPSTREAM_IDLE}
    endpoints:
      - address: 127.0.0.1:${backendPort}
accessLog:
  target: "off"
drain:
  timeoutMs: 1000
  spreadMs: 0
workers: 1
`;
}

/**
 * The HTTP/2 backend of the upstream scenario: nginx, 1 worker, h2c with prior knowledge only,
 * answering `/` with the 100 bytes itself (128 streams per connection, nginx's default), and
 * stub_status on a second port: `accepts` counts every connection a proxy opened to it.
 */
export function backendNginxH2c(dir: string, port: number, statusPort: number): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/backend-h2c.pid;
error_log ${dir}/backend-h2c-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  http2_max_concurrent_streams 128;
  default_type text/plain;
  ${tempPaths(dir, 'backend-h2c')}
  server {
    listen 127.0.0.1:${port} http2 backlog=4096;
    location = ${LARGE_PATH} { return 404; }
    location / { return 200 "${SMALL_BODY}"; }
  }
  server {
    listen 127.0.0.1:${statusPort};
    location / { stub_status; }
  }
}
`;
}

/** The lifeline cluster lines that make its upstream HTTP/2 (h2c in clear): the key under test. */
export const LIFELINE_UPSTREAM_H2 = '    protocol: http2\n';

/**
 * HAProxy with an HTTP/2 upstream (`proto h2` on the server line), the reference for the upstream
 * scenario. `http-reuse always`: with `safe` (the throughput runs' setting) each client session's
 * first request takes a server connection of its own, so 50 h2load clients open about 50 backend
 * connections; `always` lets every stream share the multiplexed ones, HAProxy's best case here.
 */
export function upstreamHaproxy(port: number, backendPort: number): string {
  return frontHaproxy(port, backendPort, 'h2c', { certFile: '', keyFile: '', pemFile: '' })
    .replace(`server b1 127.0.0.1:${backendPort}`, `server b1 127.0.0.1:${backendPort} proto h2`)
    .replace('http-reuse safe', 'http-reuse always');
}
