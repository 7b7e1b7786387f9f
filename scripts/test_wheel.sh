#!/usr/bin/env bash
# Test the Python package as a wheel user gets it: `pip wheel ./python` builds a platform wheel
# carrying the release-mode libquantize; it is installed into a fresh virtual environment from a
# copy of the wheel, with cargo (and the rest of the Rust toolchain) NOT on PATH, and the Python
# tests run against it from outside the source tree.
#
# Needs: python3 with the venv module, cargo (for the build only), network access to PyPI
# (setuptools, numpy, pytest, gguf, ml_dtypes). Respects CARGO_TARGET_DIR.
# Usage: scripts/test_wheel.sh [extra pytest arguments]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "test_wheel.sh: FAIL: $*" >&2; exit 1; }

command -v python3 >/dev/null || fail "python3 is not installed"
command -v cargo >/dev/null || fail "cargo is not installed (needed to build the wheel)"

echo "== build venv"
python3 -m venv "$WORK/build" || fail "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
"$WORK/build/bin/python" -m pip install --disable-pip-version-check -q wheel \
    || fail "pip install wheel failed"

echo "== pip wheel ./python"
(cd "$ROOT" && "$WORK/build/bin/python" -m pip wheel --disable-pip-version-check --no-deps \
    -w "$WORK/dist" ./python) || fail "pip wheel ./python failed"
shopt -s nullglob
wheels=("$WORK"/dist/quantize-*.whl)
((${#wheels[@]} == 1)) || fail "expected one quantize wheel, got: ${wheels[*]:-none}"
wheel=${wheels[0]}
name=$(basename "$wheel")
echo "built $name"
case "$name" in
  *-py3-none-any.whl) fail "$name is a pure-Python wheel; it must carry a platform tag" ;;
  *-py3-none-*.whl) ;;
  *) fail "$name: unexpected tag (expected py3-none-<platform>)" ;;
esac
"$WORK/build/bin/python" - "$wheel" <<'PY' || fail "the wheel does not carry the library"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for wanted in ("quantize/libquantize.so", "quantize/py.typed", "quantize/gguf.py"):
    assert wanted in names, (wanted, names)
print("contents ok:", len(names), "files")
PY

echo "== install the wheel without Rust on PATH"
mkdir "$WORK/copy"
cp "$wheel" "$WORK/copy/"
# PATH without every directory that holds cargo, rustc or rustup; CARGO/RUSTUP variables unset.
NORUST_PATH=
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [[ -z "$dir" || -x "$dir/cargo" || -x "$dir/rustc" || -x "$dir/rustup" ]] && continue
  NORUST_PATH=${NORUST_PATH:+$NORUST_PATH:}$dir
done
PY3=$(python3 -c 'import sys; print(sys.executable)')
norust() {
  env -u CARGO -u CARGO_HOME -u RUSTUP_HOME -u RUSTUP_TOOLCHAIN -u QUANTIZE_LIBRARY \
      -u QUANTIZE_SOURCE_DIR PATH="$WORK/venv/bin:$NORUST_PATH" "$@"
}
for tool in cargo rustc rustup; do
  if norust sh -c "command -v $tool" >/dev/null; then
    fail "$tool is still on PATH ($NORUST_PATH)"
  fi
done
norust "$PY3" -m venv "$WORK/venv" || fail "python3 -m venv failed"
PY="$WORK/venv/bin/python"
norust "$PY" -m pip install --disable-pip-version-check -q "$WORK/copy/$name" \
    || fail "pip install of the wheel failed"
norust "$PY" -m pip install --disable-pip-version-check -q pytest numpy gguf ml_dtypes \
    || fail "pip install pytest numpy gguf ml_dtypes failed"
# The package must not find a source tree or a cargo to rebuild from: run from elsewhere.
norust "$PY" -c 'import quantize, shutil; assert shutil.which("cargo") is None; print("imported", quantize.__version__, "from", quantize.library_path)' \
    || fail "the installed wheel does not import"

echo "== pytest"
cd "$WORK"
norust env QUANTIZE_TEST_INSTALLED=1 QUANTIZE_TEST_WHEEL=1 \
    "$PY" -m pytest -p no:cacheprovider -q "$ROOT/python/tests" "$@" || fail "pytest failed"
echo "test_wheel.sh: OK"
