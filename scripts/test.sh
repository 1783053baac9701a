#!/bin/sh
# Command 2: install what the tests need (Python packages, Debian's Chromium) and run them all.
# Extra arguments go to pytest (e.g. -k invitations, or tests/services).
set -eu
cd "$(dirname "$0")/.."
sh scripts/bootstrap.sh requirements-test.txt

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Chromium at /usr/bin/chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

export LITELLM_LOCAL_MODEL_COST_MAP=True REFLEX_TELEMETRY_ENABLED=false
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
