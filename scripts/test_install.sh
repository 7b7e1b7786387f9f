#!/usr/bin/env bash
# Install libquantize into a temporary prefix with `make install` and use it the way
# README.md says: C programs through `pkg-config --cflags --libs quantize` (shared) and
# `pkg-config --static --cflags --libs quantize` (static: must not need libquantize.so), a C++17
# program, the SONAME and the symlinks. Builds scripts/install_smoke.{c,cpp}, every
# examples-c/*.c and tests/c/*.c (shared and static) and examples-c/*.cpp, and the C and C++
# recipes of README.md.
#
# Needs: cargo, make, cc, c++, pkg-config, readelf (binutils). Respects CARGO_TARGET_DIR.
# Usage: scripts/test_install.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "test_install.sh: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

for tool in make cc c++ pkg-config readelf cargo; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done

cd "$ROOT"
VERSION=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MAJOR=${VERSION%%.*}
[[ -n "$VERSION" ]] || fail "no version in Cargo.toml"

step "make build"
make build

step "make install DESTDIR=... PREFIX=/opt/quantize (staged)"
make install DESTDIR="$WORK/stage" PREFIX=/opt/quantize
[[ -f "$WORK/stage/opt/quantize/include/quantize.h" ]] || fail "DESTDIR: header missing"
grep -qx 'prefix=/opt/quantize' "$WORK/stage/opt/quantize/lib/pkgconfig/quantize.pc" \
    || fail "DESTDIR leaked into quantize.pc"

PREFIX="$WORK/prefix"
step "make install PREFIX=$PREFIX"
make install PREFIX="$PREFIX"
LIB="$PREFIX/lib"
[[ -f "$PREFIX/include/quantize.h" ]] || fail "header not installed"
cmp -s include/quantize.h "$PREFIX/include/quantize.h" || fail "installed header differs"
[[ -f "$LIB/libquantize.so.$VERSION" && ! -L "$LIB/libquantize.so.$VERSION" ]] \
    || fail "libquantize.so.$VERSION is not a regular file"
[[ "$(readlink "$LIB/libquantize.so.$MAJOR")" == "libquantize.so.$VERSION" ]] \
    || fail "libquantize.so.$MAJOR does not link to libquantize.so.$VERSION"
[[ "$(readlink "$LIB/libquantize.so")" == "libquantize.so.$MAJOR" ]] \
    || fail "libquantize.so does not link to libquantize.so.$MAJOR"
[[ -f "$LIB/libquantize.a" ]] || fail "libquantize.a not installed"
readelf -d "$LIB/libquantize.so.$VERSION" | grep -q "Library soname: \[libquantize.so.$MAJOR\]" \
    || fail "SONAME is not libquantize.so.$MAJOR: $(readelf -d "$LIB/libquantize.so.$VERSION" | grep -i soname)"

export PKG_CONFIG_PATH="$LIB/pkgconfig"
step "pkg-config"
pkg-config --print-errors --exists quantize
[[ "$(pkg-config --modversion quantize)" == "$VERSION" ]] || fail "pkg-config --modversion"
echo "shared: $(pkg-config --cflags --libs quantize)"
echo "static: $(pkg-config --static --cflags --libs quantize)"
[[ "$(pkg-config --static --libs quantize)" != "$(pkg-config --libs quantize)" ]] \
    || fail "quantize.pc has no Libs.private (the native libraries of the static library)"

# The programs: ours, the examples, and the recipes of README.md.
mkdir -p "$WORK/src" "$WORK/bin"
C_PROGRAMS=("$ROOT/scripts/install_smoke.c")
for f in "$ROOT"/examples-c/*.c "$ROOT"/tests/c/*.c; do
    [[ -e "$f" ]] && C_PROGRAMS+=("$f")
done
awk '/^```c$/{on=1; next} /^```$/{on=0} on' README.md > "$WORK/src/using_md.c"
awk '/^```cpp$/{on=1; next} /^```$/{on=0} on' README.md > "$WORK/src/using_md.cpp"
[[ -s "$WORK/src/using_md.c" && -s "$WORK/src/using_md.cpp" ]] || fail "no C/C++ recipe in README.md"
C_PROGRAMS+=("$WORK/src/using_md.c")
CXX_PROGRAMS=("$ROOT/scripts/install_smoke.cpp" "$WORK/src/using_md.cpp")
for f in "$ROOT"/examples-c/*.cpp; do
    [[ -e "$f" ]] && CXX_PROGRAMS+=("$f")
done

WARN=(-Wall -Wextra -Werror)
needs_shared_lib() { readelf -d "$1" | grep -q "NEEDED.*\[libquantize\.so"; }

for src in "${C_PROGRAMS[@]}"; do
    name=$(basename "$src" .c)
    std=(-std=c99 -Wpedantic)
    libm=(-lm)
    [[ "$src" == "$ROOT"/examples-c/* ]] && std=(-I"$ROOT/examples-c")  # their own standard
    [[ "$src" == "$ROOT"/tests/c/* ]] && std=(-I"$ROOT/tests/c")
    [[ "$name" == using_md ]] && libm=()  # exactly the documented command (plus warnings)

    step "C, shared: $name"
    # shellcheck disable=SC2046
    cc "${std[@]}" "${WARN[@]}" "$src" -o "$WORK/bin/$name-shared" $(pkg-config --cflags --libs quantize) "${libm[@]}"
    readelf -d "$WORK/bin/$name-shared" | grep -q "NEEDED.*\[libquantize\.so\.$MAJOR\]" \
        || fail "$name-shared does not need libquantize.so.$MAJOR"
    LD_LIBRARY_PATH="$LIB" "$WORK/bin/$name-shared" || fail "$name-shared exited with $?"

    step "C, static: $name"
    # shellcheck disable=SC2046
    cc "${std[@]}" "${WARN[@]}" "$src" -o "$WORK/bin/$name-static" \
        $(pkg-config --static --cflags --libs quantize | sed 's/-lquantize\b/-l:libquantize.a/') "${libm[@]}"
    if needs_shared_lib "$WORK/bin/$name-static"; then fail "$name-static needs libquantize.so"; fi
    if ldd "$WORK/bin/$name-static" | grep -q libquantize; then fail "ldd: $name-static loads libquantize"; fi
    env -u LD_LIBRARY_PATH "$WORK/bin/$name-static" || fail "$name-static exited with $?"
done

for src in "${CXX_PROGRAMS[@]}"; do
    name=$(basename "$src" .cpp)-cpp
    step "C++17, shared: $name"
    # shellcheck disable=SC2046
    c++ -std=c++17 -Wpedantic "${WARN[@]}" "$src" -o "$WORK/bin/$name" $(pkg-config --cflags --libs quantize)
    needs_shared_lib "$WORK/bin/$name" || fail "$name does not need libquantize.so"
    LD_LIBRARY_PATH="$LIB" "$WORK/bin/$name" || fail "$name exited with $?"
done

step "make uninstall"
make uninstall PREFIX="$PREFIX"
left=$(find "$PREFIX" -type f -o -type l)
[[ -z "$left" ]] || fail "make uninstall left: $left"

echo "test_install.sh: OK (${#C_PROGRAMS[@]} C programs shared and static, ${#CXX_PROGRAMS[@]} C++ programs)"
