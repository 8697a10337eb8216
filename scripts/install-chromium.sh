#!/bin/sh
# The browser test drives Debian's Chromium (Playwright cannot download its own here).
set -e
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The browser test needs Debian's chromium: run 'sudo apt-get install chromium'." >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
