"""Build step of the Python package: compile libquantize with cargo and bundle it.

`pip install ./python` runs `cargo build --release --lib` on the crate one directory up (or
in $QUANTIZE_SOURCE_DIR), asks cargo where it put the shared library (respecting
CARGO_TARGET_DIR) and copies it into the package, next to quantize/_ffi.py which loads it with
ctypes. The wheel is tagged py3-none-<platform>: it contains a native library but no Python
extension module, so it does not depend on the Python version.
"""

import json
import os
import re
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))


def _source_dir():
    root = os.environ.get("QUANTIZE_SOURCE_DIR") or os.path.dirname(HERE)
    if not os.path.isfile(os.path.join(root, "Cargo.toml")):
        sys.exit(
            "quantize: cannot find the libquantize crate (Cargo.toml) in %r. Build from the "
            "repository checkout (`pip install ./python`) or set QUANTIZE_SOURCE_DIR." % root
        )
    return root


def _crate_version():
    with open(os.path.join(_source_dir(), "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    package = re.search(r"^\[package\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    version = package and re.search(r'^version\s*=\s*"([^"]+)"', package.group(1), re.M)
    if not version:
        sys.exit("quantize: no version in the [package] table of Cargo.toml")
    return version.group(1)


def _library_file_name():
    if sys.platform == "darwin":
        return "libquantize.dylib"
    if sys.platform == "win32":
        return "quantize.dll"
    return "libquantize.so"


def _cargo():
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo:
        home = os.path.join(os.path.expanduser("~"), ".cargo", "bin", "cargo")
        cargo = home if os.path.isfile(home) else None
    if not cargo:
        sys.exit(
            "quantize: building the package needs the Rust toolchain (cargo), which was not "
            "found on PATH; install it from https://rustup.rs"
        )
    return cargo


def build_library():
    """Run cargo; return the path of the shared library it built."""
    root = _source_dir()
    cmd = [
        _cargo(),
        "build",
        "--release",
        "--lib",
        "--manifest-path",
        os.path.join(root, "Cargo.toml"),
        "--message-format=json-render-diagnostics",
    ]
    print("quantize: running " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        sys.exit("quantize: cargo build failed (exit status %d)" % proc.returncode)
    wanted = _library_file_name()
    found = None
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact":
            continue
        target = msg.get("target", {})
        if target.get("name") != "quantize" or "cdylib" not in target.get("kind", []):
            continue
        for path in msg.get("filenames", []):
            if os.path.basename(path) == wanted:
                found = path
    if not found or not os.path.isfile(found):
        sys.exit("quantize: cargo did not report building %s" % wanted)
    return found


class build_py(_build_py):
    """build_py that also builds libquantize and puts it in the package."""

    def run(self):
        super().run()
        library = build_library()
        if getattr(self, "editable_mode", False):
            package_dir = os.path.join(HERE, "quantize")
        else:
            package_dir = os.path.join(self.build_lib, "quantize")
        self.mkpath(package_dir)
        self.copy_file(library, os.path.join(package_dir, _library_file_name()))

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, "quantize", _library_file_name()))
        return outputs


class BinaryDistribution(Distribution):
    """Not pure Python: install into platlib, build a platform wheel."""

    def has_ext_modules(self):
        return True


class bdist_wheel(_bdist_wheel):
    """Platform wheel (it carries a native library), independent of the Python version."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _python, _abi, platform = super().get_tag()
        return "py3", "none", platform


setup(
    version=_crate_version(),
    distclass=BinaryDistribution,
    cmdclass={"build_py": build_py, "bdist_wheel": bdist_wheel},
)
