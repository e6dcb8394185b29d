#!/usr/bin/env bash
# install_test.sh BUILD_DIR PREFIX LIBDIR INCLUDEDIR CUDA(yes|no) SOURCE_DIR
# meson install --destdir into a temporary folder; then, using only what was installed:
#   1. every installed header compiles on its own (the public headers are self-contained and
#      include only installed headers);
#   2. a small program builds with `pkg-config --cflags --libs kiln` and runs;
#   3. the CUDA backend module sits in <libdir>/kiln/ when it was built;
#   4. the out-of-tree plugin example (examples/plugins/) builds as its README says, exports only
#      kiln_plugin_entry, and a program against the installed libkiln (csv_plugin_check.cpp) loads
#      it from KILN_PLUGIN_PATH through PluginRegistry and checks what it reads.
set -euo pipefail
build=$1 prefix=$2 libdir=$3 includedir=$4 cuda=$5 source=$6
if [ "${KILN_TEST_SANITIZE:-none}" != none ]; then
    # The programs below are built as a user builds them, without the sanitizer runtime that a
    # sanitized libkiln needs; the release build runs this test.
    echo "skipped: a -Db_sanitize=${KILN_TEST_SANITIZE} build (users' programs would need the sanitizer runtime)"
    exit 77
fi
cxx=${KILN_TEST_CXX:-c++}
meson=${KILN_TEST_MESON:-meson}
# libdir/includedir may be given relative to the prefix.
case "$libdir" in /*) ;; *) libdir=$prefix/$libdir ;; esac
case "$includedir" in /*) ;; *) includedir=$prefix/$includedir ;; esac

dest=$(mktemp -d "${TMPDIR:-/tmp}/kiln-install-test.XXXXXX")
trap 'rm -rf "$dest"' EXIT

$meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >"$dest.log" 2>&1 || {
    cat "$dest.log"; rm -f "$dest.log"; echo "FAIL: meson install --destdir"; exit 1; }
rm -f "$dest.log"

export PKG_CONFIG_PATH=$dest$libdir/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$dest
pc=$dest$libdir/pkgconfig/kiln.pc
[ -f "$pc" ] || { echo "FAIL: no kiln.pc at $pc"; exit 1; }
echo "--- installed kiln.pc:"; cat "$pc"
cflags=$(pkg-config --cflags kiln)
libs=$(pkg-config --libs kiln)
echo "--- pkg-config --cflags: $cflags"
echo "--- pkg-config --libs:   $libs"

work=$dest/work
mkdir -p "$work"

# 1. Each installed header, compiled alone (syntax only) with pkg-config's flags, two at a time.
find "$dest$includedir/kiln" -name '*.h' | sort >"$work/headers.txt"
count=$(wc -l <"$work/headers.txt")
[ "$count" -gt 0 ] || { echo "FAIL: no headers installed under $includedir/kiln"; exit 1; }
export cxx cflags prefix_dir=$dest$includedir/
failed=0
# shellcheck disable=SC2016  # expanded by the inner shell
xargs -P 2 -I '{}' sh -c '
    rel=${1#"$prefix_dir"}
    out=$(printf "#include \"%s\"\n" "$rel" | $cxx -std=c++20 -fsyntax-only $cflags -x c++ - 2>&1) && exit 0
    printf "FAIL: installed header %s does not compile on its own:\n%s\n" "$rel" "$(printf "%s\n" "$out" | head -20)"
    exit 1' sh '{}' <"$work/headers.txt" || failed=1
echo "--- $count installed headers checked one by one"

# 2. A program against the installed library.
cat >"$work/main.cpp" <<'CPP'
#include <cstdio>
#include <cstring>

#include "kiln/core/error.h"

int main() {
    try {
        kiln::fail(kiln::Errc::shape_mismatch, "installed kiln works");
    } catch (const kiln::Error& e) {
        const char* name = kiln::errc_name(e.code());
        if (e.code() != kiln::Errc::shape_mismatch || !name || !*name || std::strcmp(e.what(), "installed kiln works") != 0) {
            std::printf("unexpected error: %s: %s\n", name ? name : "(null)", e.what());
            return 1;
        }
        std::printf("caught kiln::Error %s: %s\n", name, e.what());
        return 0;
    }
    std::printf("kiln::fail did not throw\n");
    return 1;
}
CPP
# shellcheck disable=SC2086
$cxx -std=c++20 $cflags "$work/main.cpp" -o "$work/main" $libs
LD_LIBRARY_PATH=$dest$libdir "$work/main"

# 2b. The minimal inference module: kiln-inference.pc names the engine, the model builders and
# safetensors; a program built with it (examples/classify.cpp, statically against the installed
# .a files) and the engine's library need neither libpng nor libjpeg, and no JSON parser is in
# the engine.
inference_libs=$(pkg-config --libs --static kiln-inference)
echo "--- pkg-config --libs --static kiln-inference: $inference_libs"
# shellcheck disable=SC2086
$cxx -std=c++20 $(pkg-config --cflags kiln-inference) "$source/examples/classify.cpp" -o "$work/classify" \
    -Wl,-Bstatic $(pkg-config --libs-only-l kiln-inference) -Wl,-Bdynamic $(pkg-config --libs-only-other --static kiln-inference) -L"$dest$libdir" -lpthread -ldl
needed_of() { readelf -d "$1" | awk '/NEEDED/ {print $NF}'; }
if needed_of "$work/classify" | grep -qE 'png|jpeg|kiln'; then
    printf 'FAIL: classify (static kiln) needs:\n%s\n' "$(needed_of "$work/classify")"; exit 1; fi
if needed_of "$dest$libdir/libkiln-runtime.so" | grep -qE 'png|jpeg'; then
    printf 'FAIL: libkiln-runtime.so needs:\n%s\n' "$(needed_of "$dest$libdir/libkiln-runtime.so")"; exit 1; fi
if nm -C "$dest$libdir/libkiln-runtime.so" | grep -q nlohmann; then echo "FAIL: libkiln-runtime.so holds nlohmann-json code"; exit 1; fi
status=0
"$work/classify" 2>/dev/null || status=$?
[ "$status" -eq 2 ] || { echo "FAIL: classify without arguments exits $status, not 2 (its usage)"; exit 1; }
echo "--- examples/classify.cpp built statically with kiln-inference: no libpng, libjpeg or libkiln-*.so needed"

# 3. The CUDA backend module.
if [ "$cuda" = yes ]; then
    module=$dest$libdir/kiln/libkiln-cuda.so
    [ -f "$module" ] || { echo "FAIL: $libdir/kiln/libkiln-cuda.so was not installed"; exit 1; }
    echo "--- installed $libdir/kiln/libkiln-cuda.so"
    # make_backend("cuda") in a program of the installed kiln finds the module beside libkiln.
    cat >"$work/cuda.cpp" <<'CPP'
#include <cstdio>
#include <string>

#include "kiln/backend/registry.h"
#include "kiln/core/error.h"

int main() {
    try {
        std::printf("make_backend(\"cuda\"): %s\n", kiln::make_backend("cuda")->name());
    } catch (const kiln::Error& e) {
        std::printf("make_backend(\"cuda\"): %s\n", e.what());
        return std::string(e.what()).find("no CUDA device is visible") == std::string::npos;  // loaded, no GPU
    }
    return 0;
}
CPP
    # shellcheck disable=SC2086
    $cxx -std=c++20 $cflags "$work/cuda.cpp" -o "$work/cuda" $libs
    env -u KILN_CUDA_BACKEND LD_LIBRARY_PATH=$dest$libdir "$work/cuda" || { echo "FAIL: the installed CUDA backend was not found or did not load"; exit 1; }
fi

# 4. The plugin example, built on its own against the installed kiln.
plugin_build=$work/csv-plugin
CXX=$cxx $meson setup "$plugin_build" "$source/examples/plugins" >"$work/plugin.log" 2>&1 &&
    $meson compile -C "$plugin_build" >>"$work/plugin.log" 2>&1 || {
    cat "$work/plugin.log"; echo "FAIL: examples/plugins does not build against the installed kiln"; exit 1; }
exports=$(nm -D --defined-only "$plugin_build/kiln-csv.so" | awk '{print $NF}')
[ "$exports" = kiln_plugin_entry ] || {
    printf 'FAIL: kiln-csv.so exports more than kiln_plugin_entry:\n%s\n' "$exports"; exit 1; }
echo "--- built examples/plugins/kiln-csv.so against the installed kiln"
# shellcheck disable=SC2086
$cxx -std=c++20 $cflags "$source/test/install/csv_plugin_check.cpp" -o "$work/csv_plugin_check" $libs
mkdir -p "$work/csv"
KILN_PLUGIN_PATH=$plugin_build LD_LIBRARY_PATH=$dest$libdir "$work/csv_plugin_check" "$work/csv"
exit "$failed"
