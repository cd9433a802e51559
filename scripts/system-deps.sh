#!/usr/bin/env bash
# Installs the Debian packages the tests need (espeak-ng and festival for generated speech, chromium
# for the page's end-to-end test) when they are missing, and starts PostgreSQL and Redis when they are down.
# Idempotent: on a machine that has everything it does nothing.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
ldconfig -p | grep -q libespeak-ng.so.1 || missing+=(libespeak-ng1)
command -v chromium >/dev/null || missing+=(chromium)
# The viseme corpus tests synthesise with festival's kal voice.
command -v festival >/dev/null || missing+=(festival)
[ -d /usr/share/festival/voices/english/kal_diphone ] || missing+=(festvox-kallpc16k)
"$(dirname "$0")/apt-install-missing.sh" "${missing[@]}"

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
