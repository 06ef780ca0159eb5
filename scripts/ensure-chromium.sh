#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing (idempotent).
# The tests start it with: --headless --no-sandbox --disable-gpu
#   --disable-background-networking --disable-component-update
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
echo "ensure-chromium: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
