#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed: the report test opens report.html in it.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing from Debian's archive: chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
chromium --version
