#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing (idempotent).
# It says what it installs before it does, and skips recommended packages (which would pull
# in udev, avahi and friends that headless tests never use). The tests start Chromium with:
#   --headless --no-sandbox --disable-gpu --disable-background-networking
#   --disable-component-update
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
PACKAGES=(chromium fonts-liberation)
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: the browser tests need /usr/bin/chromium; install it with:" >&2
    echo "    sudo apt-get install --no-install-recommends ${PACKAGES[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: the browser tests need Chromium, which is missing."
echo "ensure-chromium: running apt-get update, then apt-get install --no-install-recommends ${PACKAGES[*]}"
apt-get update -qq
new=$(apt-get install -s --no-install-recommends "${PACKAGES[@]}" | awk '/^Inst /{print $2}' | tr '\n' ' ')
echo "ensure-chromium: installing $(wc -w <<<"$new") Debian packages: $new"
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
