#!/usr/bin/env bash
# Create .venv at the repository root when it is missing, and install edge-sr with pinned
# dependencies into it (a no-op when nothing changed since the last install).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($python --version)" >&2
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
# torch is pinned to the CPU build (2.13.0): a bare `torch` would pull a multi-GB CUDA build.
# The stamp skips pip when pyproject.toml has not changed since the last install (the install
# is editable, so code changes need no reinstall).
stamp=.venv/.edge-sr-installed
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/edge-sr ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing edge-sr and its pinned dependencies into .venv (minutes the first time)" >&2
    log=.venv/pip-install.log
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: pip install failed (log above, kept in $log)" >&2
        exit 1
    fi
    .venv/bin/python -c "import edge_sr, edge_sr.converters, edge_sr.quant"
    echo "$wanted" > "$stamp"
fi

# The legacy tflite-runtime interpreter needs numpy<2, so it gets its own small environment;
# converters check .tflite files in it too.  Best effort: where the wheel does not install, the
# check is reported as not run.
legacy=.venv/tflite-runtime
if [ ! -x "$legacy/bin/python" ] || ! "$legacy/bin/python" -c "import tflite_runtime" >/dev/null 2>&1; then
    if "$python" -m venv "$legacy" >/dev/null 2>&1 \
        && "$legacy/bin/python" -m pip install --quiet --disable-pip-version-check "tflite-runtime==2.14.0" "numpy<2" >/dev/null 2>&1; then
        echo "setup: legacy tflite-runtime 2.14.0 installed in $legacy" >&2
    else
        echo "setup: tflite-runtime does not install here; the legacy-interpreter check will be skipped" >&2
        rm -rf "$legacy"
    fi
fi

# Debian packages the app tests need: Chromium (the report's and the web demo's browser tests)
# and a Java runtime (the npm Kotlin compiler that builds the Android app's core).
missing_packages=()
command -v chromium >/dev/null 2>&1 || missing_packages+=(chromium)
command -v java >/dev/null 2>&1 || missing_packages+=(openjdk-17-jre-headless)
if [ "${#missing_packages[@]}" -gt 0 ]; then
    echo "setup: installing Debian's ${missing_packages[*]} for the app and browser tests" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! { $sudo apt-get update -qq >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing_packages[@]}" >/dev/null 2>&1; }; then
        echo "setup: could not install ${missing_packages[*]} with apt-get (the app tests will fail)" >&2
    fi
fi

# npm packages, each pinned by its lock file (a stamp of the lock's hash skips repeat installs):
# playwright-core (drives Chromium, no browser download), onnxruntime-web (the web demo's
# runtime), kotlin-compiler (compiles the Android app's platform-free core on the JDK).
for folder in tests/browser apps/web tests/kotlin; do
    lock="$(sha256sum "$folder/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$folder/node_modules/.edge-sr-installed" 2>/dev/null)" != "$lock" ]; then
        echo "setup: npm ci in $folder" >&2
        if (cd "$folder" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1); then
            echo "$lock" > "$folder/node_modules/.edge-sr-installed"
        else
            echo "setup: npm ci in $folder failed (the tests that need it will fail)" >&2
        fi
    fi
done
