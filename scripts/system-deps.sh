#!/usr/bin/env bash
# Installs the Debian packages the tests need (espeak-ng for generated speech, chromium for the
# page's end-to-end test) when they are missing, and starts PostgreSQL and Redis when they are down.
# Idempotent: on a machine that has everything it does nothing.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
ldconfig -p | grep -q libespeak-ng.so.1 || missing+=(libespeak-ng1)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
