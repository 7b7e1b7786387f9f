#!/usr/bin/env bash
# Test the Python package as a user gets it: a fresh virtual environment, `pip install ./python`
# (which builds libquantize with cargo and bundles it), then pytest on python/tests, run from
# outside the source tree so the installed package is the one imported.
#
# Needs: python3 with the venv module, cargo, network access to PyPI (setuptools, numpy,
# pytest, gguf, ml_dtypes). Respects CARGO_TARGET_DIR. Usage: scripts/test_python.sh [extra pytest arguments]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "test_python.sh: FAIL: $*" >&2; exit 1; }

command -v python3 >/dev/null || fail "python3 is not installed"
command -v cargo >/dev/null || fail "cargo is not installed"

echo "== python3 -m venv"
python3 -m venv "$WORK/venv" || fail "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
PY="$WORK/venv/bin/python"

echo "== pip install ./python"
(cd "$ROOT" && "$PY" -m pip install --disable-pip-version-check ./python) \
    || fail "pip install ./python failed"
# gguf and ml_dtypes are optional for the package; installed here so the tests that compare
# with gguf.quants and use bfloat16 run instead of skipping.
"$PY" -m pip install --disable-pip-version-check pytest numpy gguf ml_dtypes \
    || fail "pip install pytest numpy gguf ml_dtypes failed"

echo "== pytest"
cd "$WORK"
unset QUANTIZE_LIBRARY
QUANTIZE_TEST_INSTALLED=1 "$PY" -m pytest -p no:cacheprovider -v "$ROOT/python/tests" "$@" \
    || fail "pytest failed"
echo "test_python.sh: OK"
