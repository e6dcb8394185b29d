#!/usr/bin/env bash
# Builds kiln with ASan + UBSan (scripts/setup-sanitize.sh) and runs every native unit test in it,
# plus each fuzz target over its corpus (the seeds and the crash-* regression inputs) once.
# Any sanitizer report fails its test. Extra arguments go to `meson test`.
#   bash scripts/test-sanitize.sh                 # build-asan/
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/setup-sanitize.sh
. "$here/setup-sanitize.sh"
meson compile -C "$sanitize_build"
export KILN_TEST_QUICK=1   # the heaviest tests do less of the same (test/quick.h)
rm -f "$sanitize_build/meson-logs/testlog.json"   # never count an earlier run's results
meson test -C "$sanitize_build" --print-errorlogs --num-processes 2 --timeout-multiplier 3 "$@"
