/**
 * S6/S7: TLS termination in front of the same plain HTTP/1.1 backend. One self-signed ECDSA P-256
 * certificate made by openssl in the run's temp dir serves every proxy; each offers TLS 1.2 and
 * 1.3 with session resumption on (nginx: shared session cache and tickets; HAProxy: its session
 * cache and tickets, both on by default; lifeline: Node's tickets, rotated keys). Otherwise the
 * configs are S1's (configs.ts). For S7 each proxy writes one line per request saying whether its
 * TLS session was resumed and with which protocol (measured where the TLS ends, not by the client).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { proxyLifeline } from './configs.js';

export interface BenchCert {
  certFile: string;
  keyFile: string;
  /** Certificate then key, for HAProxy's `crt`. */
  pemFile: string;
}

export function makeBenchCert(dir: string): BenchCert {
  const certFile = join(dir, 'bench-cert.pem');
  const keyFile = join(dir, 'bench-key.pem');
  const pemFile = join(dir, 'bench-haproxy.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(pemFile, Buffer.concat([readFileSync(certFile), readFileSync(keyFile)]));
  return { certFile, keyFile, pemFile };
}

const tempPaths = (dir: string, tag: string): string =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${tag}-${t};`).join(' ');

/** nginx terminating TLS; `resumptionLog`: one line per request, `r` (resumed) or `.`, then the protocol. */
export function proxyNginxTls(dir: string, port: number, backendPort: number, cert: BenchCert, resumptionLog: string | null): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/proxy-nginx-tls-${port}.pid;
error_log ${dir}/proxy-nginx-tls-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  log_format resumed '$ssl_session_reused $ssl_protocol';
  ${resumptionLog === null ? 'access_log off;' : `access_log ${resumptionLog} resumed;`}
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  ${tempPaths(dir, `proxy-nginx-tls-${port}`)}
  proxy_max_temp_file_size 0;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy terminating TLS; `resumptionLog`: one line per request on stdout, `1` (resumed) or `0`, then the protocol. */
export function proxyHaproxyTls(port: number, backendPort: number, cert: BenchCert, resumptionLog: boolean): string {
  return `global
  nbthread 1
  maxconn 12000
  no strict-limits
  ssl-default-bind-options ssl-min-ver TLSv1.2
${resumptionLog ? '  log stdout format raw local0\n' : ''}defaults
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
  bind 127.0.0.1:${port} ssl crt ${cert.pemFile} alpn http/1.1
${resumptionLog ? '  log global\n  log-format "%[ssl_fc_is_resumed] %[ssl_fc_protocol]"\n' : ''}  default_backend backend
backend backend
  server b1 127.0.0.1:${backendPort}
`;
}

/** lifeline's S1 config with an https listener (resumption is counted by a preload, see run). */
export function proxyLifelineTls(port: number, backendPort: number, cert: BenchCert): string {
  return proxyLifeline(port, backendPort).replace(
    `    address: 127.0.0.1:${port}\n`,
    `    address: 127.0.0.1:${port}\n    protocol: https\n    tls: { certFile: ${cert.certFile}, keyFile: ${cert.keyFile} }\n`,
  );
}
