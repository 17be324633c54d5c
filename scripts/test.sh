#!/usr/bin/env bash
# Set up .venv if needed, then run the tests (fast set by default; --all adds the slow ones).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-env.sh"
export EDGE_SR_ZOO="${EDGE_SR_ZOO:-$root/../shared/data/zoo}"
export EDGE_SR_DATA="${EDGE_SR_DATA:-$root/../shared/data}"
if [ -x "$root/.venv/tflite-runtime/bin/python" ]; then
    export EDGE_SR_TFLITE_RUNTIME_PYTHON="${EDGE_SR_TFLITE_RUNTIME_PYTHON:-$root/.venv/tflite-runtime/bin/python}"
fi
cd "$root"
args=()
for arg in "$@"; do
    if [ "$arg" = "--all" ]; then args+=(-m "slow or not slow"); else args+=("$arg"); fi
done
exec .venv/bin/python -m pytest "${args[@]}"
