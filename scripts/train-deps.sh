#!/usr/bin/env bash
# Installs the Debian packages the viseme training corpus needs (training/visemes): espeak-ng and
# its library for multi-language speech with phoneme events, festival with the English voices
# (kal, ked, slt) and the Italian diphone voices. Idempotent: on a machine that has everything
# it does nothing; apt-get update runs only when something is missing.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
ldconfig -p | grep -q libespeak-ng.so.1 || missing+=(libespeak-ng1)
command -v festival >/dev/null || missing+=(festival)
for pkg in festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-italp16k festvox-itapc16k; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
"$(dirname "$0")/apt-install-missing.sh" "${missing[@]}"
