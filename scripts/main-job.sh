#!/usr/bin/env bash
# The main job end to end on the default model (or the one named): zoo checkpoint -> collapse ->
# evaluation -> upscaled sample -> every conversion target -> summary.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$root/.venv/bin/edge-sr" pipeline "${1:-span-ch28}" -o "${2:-$root/out/pipeline}"
