#!/usr/bin/env bash
# Set up .venv if needed, then run the tests (fast set by default; --all adds the slow ones).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
args=()
for arg in "$@"; do
    if [ "$arg" = "--all" ]; then args+=(-m "slow or not slow"); else args+=("$arg"); fi
done
exec .venv/bin/python -m pytest "${args[@]}"
