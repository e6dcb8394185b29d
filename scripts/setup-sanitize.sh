#!/usr/bin/env bash
# Configures (once) the sanitizer build that scripts/test-sanitize.sh and scripts/fuzz.sh share:
# clang, AddressSanitizer + UndefinedBehaviorSanitizer that stop at the first report, libFuzzer's
# instrumentation (-Dfuzz=true), -O1 with line tables for readable reports, asserts kept, no
# CUDA. Installs clang's runtimes (libclang-rt-14-dev: ASan, UBSan, libFuzzer) and llvm (the
# symbolizer) when they are missing. Sourced, it leaves the folder in $sanitize_build.
#   KILN_SANITIZE_BUILD picks another folder (default build-asan).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/apt-common.sh
. "$here/apt-common.sh"
install_packages clang-14 libclang-rt-14-dev llvm-14

cd "$here/.."
sanitize_build=$(realpath -m "${KILN_SANITIZE_BUILD:-build-asan}")
if [ ! -f "$sanitize_build/meson-private/coredata.dat" ]; then
    CC=clang-14 CXX=clang++-14 meson setup "$sanitize_build" --buildtype=plain -Doptimization=1 -Db_ndebug=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true -Dcuda=disabled \
        -Dcpp_args="-fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only" >/dev/null
fi
# Every report stops the program (halt_on_error), with a symbolized stack. LeakSanitizer is off
# for the unit tests and tools: its stop-the-world tracer crashed ("Tracer caught signal 11") at
# the exit of multi-threaded kiln-train runs on these machines. The fuzz targets, single-threaded,
# keep it (test/fuzz/meson.build, scripts/fuzz.sh).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/bin/llvm-symbolizer-14}
