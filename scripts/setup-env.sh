#!/usr/bin/env bash
# Create .venv at the repository root when it is missing, and install edge-sr with pinned
# dependencies into it (a no-op when everything is already installed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($python --version)" >&2
    "$python" -m venv .venv
    log=.venv/pip-install.log
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: pip install failed (log above, kept in $log)" >&2
        exit 1
    fi
    .venv/bin/python -c "import edge_sr, edge_sr.converters, edge_sr.quant"
    echo "$wanted" > "$stamp"
fi
