#!/usr/bin/env bash
# Prints the app's parsed view of each contract, one JSON object per line (apps/README.md,
# "The parsed view"); exits 1 with a one-line error when a contract is refused.
#
#   dump-contract.sh KOTLIN_HOME BUILD_DIR contract.json ...
#
# Reuses BUILD_DIR/core.jar when run-tests.sh (or an earlier call) built it.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 KOTLIN_HOME BUILD_DIR contract.json ..." >&2
    exit 2
fi
kotlin_home=$1
build_dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$build_dir/core.jar" ]; then
    mkdir -p "$build_dir"
    "$kotlin_home/bin/kotlinc" -nowarn "$here/src/main/kotlin" -d "$build_dir/core.jar"
fi
exec java -cp "$build_dir/core.jar:$kotlin_home/lib/kotlin-stdlib.jar" dev.edgesr.core.DumpContractKt "$@"
