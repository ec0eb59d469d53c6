#!/usr/bin/env bash
# Installs what bench/http2 needs, and nothing that is already there: everything bench/proxy's
# install.sh installs (nginx-light, haproxy, wrk; the Node peers into bench/.peers, http2-proxy
# among them), plus h2load (Debian nghttp2-client) and openssl (the TLS certificate).
# Idempotent. Usage: bash bench/http2/install.sh        (as root, for apt-get)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/../proxy/install.sh"

missing_apt=()
command -v h2load >/dev/null 2>&1 || missing_apt+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || missing_apt+=(openssl)
if ((${#missing_apt[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: need root to apt-get install ${missing_apt[*]}" >&2
    exit 1
  fi
  echo "install.sh: apt-get install ${missing_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_apt[@]}"
fi
echo "install.sh: ready for bench/http2: $(h2load --version 2>/dev/null | head -1)"
