#!/usr/bin/env bash
# bench/http2 in one command from a clean checkout: install the peers (bench/http2/install.sh),
# install the project's dependencies if absent, build, and run the benchmark. Arguments go to
# run.js: --write (into bench/RESULTS.md), --quick, --only=lifeline,nginx.
#   bash bench/http2/run.sh --write
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash bench/http2/install.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json || echo "run.sh: tsc reported errors; running what it emitted" >&2
BENCH_HTTP2_RUN_SH=1 exec node dist/bench/http2/run.js --no-install "$@"
