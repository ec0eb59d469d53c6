/**
 * Config templates for bench/proxy, written into the run's temp dir with the ports picked at run
 * time. Every proxy gets the same client-side keep-alive (75 s idle, no cap on requests per client
 * connection, room for 10,000+ client connections) and keeps upstream connections alive, so the
 * figures compare data paths rather than defaults. Native peers: one process doing the work
 * (nginx 1 worker, HAProxy nbthread 1); nobody writes an access log.
 */

/** 100 bytes: the S1/S2/S4 response body. */
export const SMALL_BODY = 'x'.repeat(100);
export const LARGE_BODY_BYTES = 64 * 1024;
export const LARGE_PATH = '/64k';

const tempPaths = (dir: string, tag: string): string =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${tag}-${t};`).join(' ');

/**
 * The backend: its own nginx, 1 worker, pinned with wrk to CPU 1. `/` returns 100 bytes, `/64k` a
 * 64 KiB file; a second server serves stub_status, whose `accepts` counts every connection the
 * backend accepted (S5). Keep-alive for 300 s with a `Keep-Alive: timeout=300` hint and no cap on
 * requests per connection, so the backend never closes a proxy's upstream connection itself.
 */
export function backendNginx(dir: string, port: number, statusPort: number): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/backend.pid;
error_log ${dir}/backend-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 300s 300s;
  keepalive_requests 100000000;
  default_type text/plain;
  open_file_cache max=16;
  ${tempPaths(dir, 'backend')}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = ${LARGE_PATH} { alias ${dir}/www/64k.bin; default_type application/octet-stream; }
    location / { return 200 "${SMALL_BODY}"; }
  }
  server {
    listen 127.0.0.1:${statusPort};
    location / { stub_status; }
  }
}
`;
}

/** nginx as the proxy: 1 worker, upstream keepalive (64 idle per worker, never recycled). */
export function proxyNginx(dir: string, port: number, backendPort: number): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/proxy-nginx-${port}.pid;
error_log ${dir}/proxy-nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  ${tempPaths(dir, 'proxy-nginx')}
  proxy_max_temp_file_size 0;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy as the proxy: one thread, keep-alive both sides, idle server connections shared safely. */
export function proxyHaproxy(port: number, backendPort: number): string {
  return `global
  nbthread 1
  maxconn 12000
  # HAProxy reserves 2 fds per connection and would refuse to start under this machine's hard
  # limit of 20,000 fds; idle client connections need only one each, so run with what there is.
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
  bind 127.0.0.1:${port}
  default_backend backend
backend backend
  server b1 127.0.0.1:${backendPort}
`;
}

/**
 * lifeline: one listener, one cluster on the backend, no health check, no admin, access log off.
 * Pool and timeouts are the defaults (the backend's 300 s hint gives the pool its 60 s cap).
 */
export function proxyLifeline(port: number, backendPort: number, workers = 1): string {
  return `listeners:
  - name: bench
    address: 127.0.0.1:${port}
    routes:
      - cluster: backend
client:
  idleTimeoutMs: 75000
  maxRequestsPerConnection: 0
  maxConnections: 20000
clusters:
  backend:
    endpoints:
      - address: 127.0.0.1:${backendPort}
accessLog:
  target: "off"
drain:
  timeoutMs: 1000
  spreadMs: 0
workers: ${workers}
`;
}
