#!/bin/sh
# Compile requirements.in (the direct dependencies) into requirements.txt (the lock: every
# package, exact versions). Neither pip-tools nor uv is on our package index, so pip resolves:
# a throwaway venv installs requirements.in constrained by the current lock (nothing moves
# unless asked), and `pip freeze` of that venv is the new lock.
#   sh scripts/lock.sh               re-lock after adding or removing a line in requirements.in
#   sh scripts/lock.sh litellm rq    also let these packages move to their newest allowed release
# tests/test_requirements.py checks that the two files agree.
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PY" -m venv "$tmp/venv"
moving=$(echo "$@" | tr ' ' '|')
grep -v '^#' requirements.txt | grep -v -i -E "^(${moving:-\$^})==" >"$tmp/constraints.txt" || true
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check \
  -r requirements.in -c "$tmp/constraints.txt"
{
  echo "# The lock: every runtime package, exact versions. Do not edit by hand: change"
  echo "# requirements.in and run \`sh scripts/lock.sh\` (test-only tools: requirements-test.txt)."
  "$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check
} >requirements.txt
echo "requirements.txt: $(grep -vc '^#' requirements.txt) packages"
