#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (Playwright drives it
# through its own bundled driver; we never download browsers). Installs it with apt when missing and
# running as root. Idempotent.
set -euo pipefail

log() { printf '[browser] %s\n' "$*"; }

if [ -x /usr/bin/chromium ]; then
  log "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "/usr/bin/chromium is missing and we are not root: run 'apt-get install chromium' (the browser tests need it)"
  # the browser tests skip locally without it and fail under CI=true
  exit 0
fi
log "installing chromium (apt)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
log "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
