#!/usr/bin/env bash
# Runs kiln's libFuzzer targets (test/fuzz) for a while each, in the ASan + UBSan build that
# scripts/setup-sanitize.sh configures, two at a time, and prints what each did:
#   fuzz-idx: 412345 executions in 20 s, 0 findings
# and leaves one JSON line per target in build-asan/fuzz/testlog.json (scripts/test-summary.py
# counts them as tests: OK with no finding, FAIL otherwise).
# New inputs go to build-asan/fuzz/corpus/<target>/ (the committed corpus is only read); a
# finding of this run (crash, sanitizer report, timeout, out of memory) is saved as
# build-asan/fuzz/findings/<target>/<kind>-<sha1>, the log is build-asan/fuzz/<target>.log, and the
# script exits 1.
# Copy a finding into test/fuzz/corpus/<target>/ as crash-<sha1> once fixed: it becomes a
# regression input that scripts/test-sanitize.sh replays.
#   bash scripts/fuzz.sh                      # every target, 60 s each
#   bash scripts/fuzz.sh --seconds 20 idx png # some targets
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=60
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --seconds=*) seconds=${1#--seconds=}; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "usage: $0 [--seconds N] [target…]" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
# shellcheck source=scripts/setup-sanitize.sh
. "$here/setup-sanitize.sh"
meson compile -C "$sanitize_build" >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
    for exe in "$sanitize_build"/test/fuzz/fuzz-*; do
        name=${exe##*/fuzz-}
        [ -f "$exe" ] && [ -x "$exe" ] && [ "$name" != make-seeds ] && targets+=("$name")
    done
fi

top=$(pwd)
work=$sanitize_build/fuzz   # absolute: a target may change its working folder (dataset-spec does)
run_one() {  # target seconds
    local name=$1 corpus=$work/corpus/$1 findings=$work/findings/$1 log=$work/$1.log
    rm -rf "$findings"   # the findings of this run only
    mkdir -p "$corpus" "$findings"
    # -timeout: one input may take 10 s; -rss_limit_mb: 2 GB (kiln's limits stay far below).
    ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=0/detect_leaks=1} \
    "$sanitize_build/test/fuzz/fuzz-$name" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/" "$corpus" "$top/test/fuzz/corpus/$name" >"$log" 2>&1
    local status=$? runs found
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    found=$(find "$findings" -type f | wc -l)
    printf 'fuzz-%s: %s executions in %s s, %s findings%s\n' "$name" "${runs:-?}" "$2" "$found" \
        "$([ "$status" -ne 0 ] && echo " (exit $status; log: $log)")"
    local result=OK
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
        grep -E "ERROR|SUMMARY|runtime error|property failed|Test unit written" "$log" | head -n 20 | sed 's/^/  /'
        result=FAIL
    fi
    printf '{"name": "fuzz-%s (%s s)", "result": "%s", "executions": %s}\n' "$name" "$2" "$result" "${runs:-0}" >>"$work/testlog.json"
    [ "$result" = OK ]
}
mkdir -p "$work"
rm -f "$work/testlog.json"   # never count an earlier run's results
export -f run_one
export sanitize_build work top
printf '%s\n' "${targets[@]}" | xargs -P 2 -I{} bash -c 'run_one "$1" "$2"' _ {} "$seconds"
