#!/usr/bin/env bash
# Set up .venv if needed, then run the tests (fast set by default; --all adds the slow ones).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
# Two pytest workers, one thread each: export, lowering, kotlinc and Chromium spend most
# of their time on one core, so two single-threaded workers keep both cores busy.
# loadfile keeps each module's expensive module-scoped fixtures in one worker.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
args=(-n "${EDGE_SR_TEST_WORKERS:-2}" --dist loadfile)
for arg in "$@"; do
    if [ "$arg" = "--all" ]; then args+=(-m "slow or not slow"); else args+=("$arg"); fi
done
exec .venv/bin/python -m pytest "${args[@]}"
