#!/usr/bin/env bash
# Installs what bench/proxy needs, and nothing that is already there:
#   - Debian: nginx-light (backend and peer), haproxy (peer), wrk (load generator), openssl (the
#     S6/S7 certificate)
#   - npm, into bench/.peers (gitignored, never in package.json): the Node peers
#       http-proxy              node-http-proxy, with and without a keep-alive agent
#       @fastify/http-proxy     on fastify 5 and undici 7 (undici 8 needs Node >= 22.19)
#       fast-proxy-lite
#       http2-proxy             for bench/http2 (an HTTP/2 front on node:http2, HTTP/1.1 upstream)
# Idempotent: a second run checks and returns in about a second.
# Usage: bash bench/proxy/install.sh        (as root, for apt-get)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="$ROOT/bench/.peers"

# Versions checked with `npm view` to install and run on Node 20 (>= 20.18.1 for undici 7).
NPM_PEERS=(
  "http-proxy@1.18.1"
  "fastify@5"
  "@fastify/http-proxy@11"
  "undici@7"
  "fast-proxy-lite@1.1.2"
  "http2-proxy@5.0.53"
)

missing_apt=()
command -v nginx >/dev/null 2>&1 || missing_apt+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || missing_apt+=(haproxy)
command -v wrk >/dev/null 2>&1 || missing_apt+=(wrk)
command -v taskset >/dev/null 2>&1 || missing_apt+=(util-linux)
command -v openssl >/dev/null 2>&1 || missing_apt+=(openssl)
if ((${#missing_apt[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: need root to apt-get install ${missing_apt[*]}" >&2
    exit 1
  fi
  echo "install.sh: apt-get install ${missing_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian starts a packaged service on install; the benchmark runs its own instances, so keep
  # nginx and haproxy from starting (policy-rc.d exit 101 = "not allowed") unless a policy exists.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  status=0
  apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" || status=$?
  [ "$own_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  [ "$status" = 0 ] || { echo "install.sh: apt-get install failed ($status)" >&2; exit "$status"; }
fi

# The Node peers: skip npm when every package is already present at an accepted version.
need_npm=0
for spec in "${NPM_PEERS[@]}"; do
  name="${spec%@*}"
  want="${spec##*@}"
  pkg="$PEERS/node_modules/$name/package.json"
  if [ ! -f "$pkg" ]; then need_npm=1; break; fi
  have="$(node -p "require('$pkg').version")"
  case "$have" in "$want"|"$want".*) ;; *) need_npm=1; break ;; esac
done
if [ "$need_npm" = 1 ]; then
  echo "install.sh: npm install ${NPM_PEERS[*]} into bench/.peers"
  mkdir -p "$PEERS"
  # A package.json of its own keeps npm from walking up to the project's and touching it.
  [ -f "$PEERS/package.json" ] || echo '{ "name": "lifeline-bench-peers", "private": true }' >"$PEERS/package.json"
  npm install --prefix "$PEERS" --no-save --no-audit --no-fund --loglevel=error "${NPM_PEERS[@]}"
fi

echo "install.sh: ready: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(haproxy -v 2>/dev/null | head -1 | awk '{print "haproxy " $3}'), $(wrk -v 2>&1 | head -1 | awk '{print $1 " " $2}'), node peers in bench/.peers"
