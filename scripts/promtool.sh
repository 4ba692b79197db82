#!/usr/bin/env bash
# The alert rules in ops/prometheus are checked and unit-tested by promtool, which comes with
# Debian's prometheus package (the server is installed too, and not started).
set -euo pipefail
if command -v promtool >/dev/null; then exit 0; fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "Installing Debian's prometheus package for promtool"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
promtool --version
