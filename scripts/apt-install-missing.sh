#!/usr/bin/env bash
# Installs the Debian packages named as arguments (the callers pass only the missing ones): as root
# directly, otherwise it says what to run. Nothing to do without arguments.
set -euo pipefail
[ $# -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: $* (run as root or: sudo apt-get install $*)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
