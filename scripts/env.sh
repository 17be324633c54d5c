# Sourced by the README's commands: set up .venv, then point edge-sr at the shared data
# (../shared/data beside the checkout unless EDGE_SR_ZOO / EDGE_SR_DATA are already set).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-env.sh"
export EDGE_SR_ZOO="${EDGE_SR_ZOO:-$root/../shared/data/zoo}"
export EDGE_SR_DATA="${EDGE_SR_DATA:-$root/../shared/data}"
if [ -x "$root/.venv/tflite-runtime/bin/python" ]; then
    export EDGE_SR_TFLITE_RUNTIME_PYTHON="${EDGE_SR_TFLITE_RUNTIME_PYTHON:-$root/.venv/tflite-runtime/bin/python}"
fi
