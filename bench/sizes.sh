#!/usr/bin/env bash
# Stripped sizes of kiln's libraries and of the smallest inference program (examples/classify,
# static kiln-inference), and what each needs at run time.
#   bash bench/sizes.sh [BUILD_DIR]            (default build; STRIP=aarch64-linux-gnu-strip for a cross build)
set -euo pipefail
build=${1:-build}
strip=${STRIP:-strip}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-32s %10s  %s\n' file "stripped" "needs"
for f in "$build"/lib/libkiln-*.so "$build"/examples/classify; do
    [ -f "$f" ] || continue
    "$strip" -o "$tmp/s" "$f"
    needs=$(readelf -d "$f" | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}' | tr '\n' ' ')
    printf '%-32s %10d  %s\n' "${f#"$build"/}" "$(stat -c %s "$tmp/s")" "$needs"
done
