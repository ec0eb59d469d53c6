#!/usr/bin/env bash
# One scenario, one build, for A/B rounds while developing (not for bench/RESULTS.md): an nginx
# backend and wrk on CPU 1, lifeline from CHECKOUT pinned to CPU 0 with npm start's semi-space cap,
# a 2 s warm-up, then SECONDS of load; prints wrk's latency percentiles and the proxy's CPU per
# request (utime+stime from /proc). Alternate two checkouts (A B A B) in one sitting to compare.
#   bash bench/proxy/one-scenario.sh S2|S3 [CHECKOUT]      (CHECKOUT: a built tree; default this one)
#   PERF=1 ...  also records `perf record -g` of the proxy into $TMPDIR/one-scenario/perf.data
#   EXTRA='--trace-gc' ...  extra node flags for the proxy (its output: $TMPDIR/one-scenario/proxy.log)
set -euo pipefail
scenario=${1:?usage: one-scenario.sh S2|S3 [CHECKOUT]}
checkout=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
case "$scenario" in
  S2) path=/; header=(-H 'Connection: close') ;;
  S3) path=/64k; header=() ;;
  *) echo "one-scenario.sh: scenario S2 or S3, not '$scenario'" >&2; exit 2 ;;
esac
[ -f "$checkout/dist/src/cli/main.js" ] || { echo "one-scenario.sh: $checkout is not built (npx tsc -p tsconfig.json)" >&2; exit 2; }
dir=${TMPDIR:-/tmp}/one-scenario; mkdir -p "$dir/www"
backend=${BACKEND_PORT:-18080}; port=${PROXY_PORT:-18081}; seconds=${SECONDS_OF_LOAD:-8}
[ -f "$dir/www/64k.bin" ] || head -c 65536 /dev/urandom > "$dir/www/64k.bin"
body=$(printf 'x%.0s' $(seq 100))
cat > "$dir/backend.conf" <<NGINX
worker_processes 1; daemon off; pid $dir/backend.pid; error_log $dir/backend-error.log warn; worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http { access_log off; keepalive_timeout 300s 300s; keepalive_requests 100000000; default_type text/plain;
  client_body_temp_path $dir/cb; proxy_temp_path $dir/pt; fastcgi_temp_path $dir/ft; uwsgi_temp_path $dir/ut; scgi_temp_path $dir/st;
  server { listen 127.0.0.1:$backend backlog=4096;
    location = /64k { alias $dir/www/64k.bin; default_type application/octet-stream; }
    location / { return 200 "$body"; } } }
NGINX
cat > "$dir/lifeline.yaml" <<YAML
listeners:
  - name: bench
    address: 127.0.0.1:$port
    routes:
      - cluster: backend
client:
  idleTimeoutMs: 75000
  maxRequestsPerConnection: 0
  maxConnections: 20000
clusters:
  backend:
    endpoints:
      - address: 127.0.0.1:$backend
accessLog:
  target: "off"
YAML
taskset -c 1 nginx -c "$dir/backend.conf" & ngx=$!
# shellcheck disable=SC2086
taskset -c 0 node --max-semi-space-size=4 ${EXTRA:-} "$checkout/bin/lifeline.js" proxy --config "$dir/lifeline.yaml" > "$dir/proxy.log" 2>&1 & px=$!
trap 'kill $px $ngx 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.1; done
taskset -c 1 wrk -t1 -c50 -d2s "${header[@]}" "http://127.0.0.1:$port$path" > /dev/null
ticks() { awk '{print $14 + $15}' "/proc/$px/stat"; }
t0=$(ticks)
if [ -n "${PERF:-}" ]; then perf record -F 2999 -g -p "$px" -o "$dir/perf.data" 2>/dev/null & pf=$!; sleep 0.3; fi
out=$(taskset -c 1 wrk -t1 -c50 -d"${seconds}"s --latency "${header[@]}" "http://127.0.0.1:$port$path")
t1=$(ticks)
if [ -n "${PERF:-}" ]; then kill -INT "$pf"; wait "$pf" || true; fi
requests=$(echo "$out" | awk '/requests in/ {print $1}')
echo "$out" | grep -E "^ +(50|75|90|99)%|Socket errors|Non-2xx" | tr -s ' ' | tr '\n' ' '
echo
hz=$(getconf CLK_TCK)
echo "$scenario $checkout: requests $requests, proxy CPU $(echo "scale=1; ($t1 - $t0) * 1000000 / $hz / $requests" | bc) µs per request, load $(cut -d' ' -f1 /proc/loadavg)"
