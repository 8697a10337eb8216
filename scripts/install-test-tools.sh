#!/bin/sh
# What the tests drive besides Python: Debian's Chromium for the browser tests (Playwright
# cannot download its own here), and nginx with openssl to run deploy/nginx.conf for real.
set -e
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
if [ -z "$missing" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need Debian's$missing: run 'sudo apt-get install$missing'." >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
