#!/usr/bin/env bash
# bench/proxy in one command from a clean checkout: install the peers (apt: nginx-light, haproxy,
# wrk; npm: the Node proxies into bench/.peers), install the project's dependencies if absent,
# build, and run the benchmark. Arguments go to run.js: --write (into bench/RESULTS.md), --quick,
# --only=ID,... (proxies), --only-scenarios=S6,S7 (development runs; not with --write).
#   bash bench/proxy/run.sh --write
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash bench/proxy/install.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json || echo "run.sh: tsc reported errors; running what it emitted" >&2
BENCH_PROXY_RUN_SH=1 exec node dist/bench/proxy/run.js --no-install "$@"
