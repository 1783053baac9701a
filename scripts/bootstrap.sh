#!/bin/sh
# Create .venv (if needed) and install a pinned requirements file into it, once per change.
# Usage: scripts/bootstrap.sh requirements.txt
set -eu
cd "$(dirname "$0")/.."
REQ="$1"
PY="${PYTHON:-python3}"

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python 3.11 or newer" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing python3-venv (Debian ships Python without it)"
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv .venv
    else
      echo "error: '$PY -m venv' failed; on Debian/Ubuntu run: sudo apt-get install python3-venv" >&2
      exit 1
    fi
  fi
fi

stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$REQ")"
if [ ! -f "$stamp" ]; then
  echo "installing $REQ into .venv (first run takes a minute)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
  touch "$stamp"
fi
