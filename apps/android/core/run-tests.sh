#!/usr/bin/env bash
# Compiles the Android app's platform-free core (dev.edgesr.core) and runs its unit tests on a
# plain JVM: no Android SDK, no Gradle, no JUnit.
#
#   run-tests.sh KOTLIN_HOME BUILD_DIR [contract.json ...]
#
# KOTLIN_HOME: a Kotlin compiler distribution (bin/kotlinc, lib/kotlin-stdlib.jar, lib/kotlin-test.jar).
# BUILD_DIR:   where core.jar and core-tests.jar are written.
# contract.json: real contracts written by `edge-sr convert`; the contract tests read them.
# Exit code: 0 when every test passed.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 KOTLIN_HOME BUILD_DIR [contract.json ...]" >&2
    exit 2
fi
kotlin_home=$1
build_dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build_dir"
stdlib="$kotlin_home/lib/kotlin-stdlib.jar"
kotlin_test="$kotlin_home/lib/kotlin-test.jar"

# One compiler call for the main sources, one for the tests (each JVM start costs ~10 s).
"$kotlin_home/bin/kotlinc" -nowarn "$here/src/main/kotlin" -d "$build_dir/core.jar"
"$kotlin_home/bin/kotlinc" -nowarn -cp "$build_dir/core.jar:$kotlin_test" "$here/src/test/kotlin" -d "$build_dir/core-tests.jar"

exec java -cp "$build_dir/core.jar:$build_dir/core-tests.jar:$stdlib:$kotlin_test" dev.edgesr.core.RunCoreTestsKt "$@"
