#!/usr/bin/env bash
# The main job end to end on the default model (or the one named): zoo checkpoint -> collapse ->
# evaluation -> upscaled sample -> summary.  Data comes from EDGE_SR_ZOO / EDGE_SR_DATA, which
# default to ../shared/data beside this checkout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-env.sh"
export EDGE_SR_ZOO="${EDGE_SR_ZOO:-$root/../shared/data/zoo}"
export EDGE_SR_DATA="${EDGE_SR_DATA:-$root/../shared/data}"
if [ -x "$root/.venv/tflite-runtime/bin/python" ]; then
    export EDGE_SR_TFLITE_RUNTIME_PYTHON="${EDGE_SR_TFLITE_RUNTIME_PYTHON:-$root/.venv/tflite-runtime/bin/python}"
fi
exec "$root/.venv/bin/edge-sr" pipeline "${1:-span-ch28}" -o "${2:-$root/out/pipeline}"
