#!/bin/sh
# Command 1: install what the platform needs and run it on its embedded defaults.
# Extra arguments go to `python -m agent_platform up` (e.g. --port 8080).
set -eu
cd "$(dirname "$0")/.."
sh scripts/bootstrap.sh requirements.txt
exec .venv/bin/python -m agent_platform up "$@"
