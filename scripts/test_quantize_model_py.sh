#!/usr/bin/env bash
# Check quantize-model's output with an independent GGUF reader: the `gguf` Python package's
# GGUFReader (quantize-model/tests/gguf_reader_check.py says what is compared).
#
# Makes a fresh virtual environment with gguf and numpy, builds quantize-model (release), and
# runs the check on the tool's test model in every type it lists. Needs python3 with the venv
# module, cargo and access to PyPI. Respects CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "test_quantize_model_py.sh: FAIL: $*" >&2; exit 1; }

command -v python3 >/dev/null || fail "python3 is not installed"
command -v cargo >/dev/null || fail "cargo is not installed"

echo "== python3 -m venv, pip install gguf numpy"
python3 -m venv "$WORK/venv" || fail "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
PY="$WORK/venv/bin/python"
"$PY" -m pip install --disable-pip-version-check -q gguf numpy || fail "pip install gguf numpy failed"

echo "== cargo build --release -p quantize-model"
(cd "$ROOT" && cargo build --release -p quantize-model) || fail "build failed"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac

echo "== gguf_reader_check.py"
mkdir -p "$WORK/run"
"$PY" "$ROOT/quantize-model/tests/gguf_reader_check.py" "$TARGET/release/quantize-model" "$WORK/run" \
    || fail "gguf_reader_check.py"
echo "test_quantize_model_py.sh: OK"
