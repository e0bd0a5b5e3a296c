#!/bin/sh
# The browser tests' tools (tests/browser, docs/status-page.md): Debian's chromium (driven by the
# venv's playwright through its executable path: `playwright install` is never used) and axe-core,
# pinned in package.json/package-lock.json, installed into ./node_modules with `npm ci`.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi
if [ ! -f node_modules/axe-core/axe.min.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --ignore-scripts --silent
fi
