"""`pip install ./python` put a platform wheel in place that carries the library it loads.

scripts/test_python.sh sets QUANTIZE_TEST_INSTALLED=1 so these fail instead of skipping when
the package is not installed (e.g. when running against a source tree with QUANTIZE_LIBRARY)."""

import os
import sys

import pytest

import quantize

INSTALLED = os.environ.get("QUANTIZE_TEST_INSTALLED") == "1"


def _distribution():
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        pytest.skip("importlib.metadata is not available")
    try:
        dist = metadata.distribution("quantize")
    except metadata.PackageNotFoundError:
        if INSTALLED:
            raise
        pytest.skip("the quantize package is not installed")
    here = os.path.realpath(quantize.__file__)
    installed = os.path.realpath(str(dist.locate_file("quantize/__init__.py"))) == here
    if not (installed and dist.read_text("WHEEL")) and not INSTALLED:
        pytest.skip("the imported quantize package was not installed from a wheel")
    return dist


def test_the_bundled_library_is_loaded():
    if os.environ.get("QUANTIZE_LIBRARY") and not INSTALLED:
        pytest.skip("QUANTIZE_LIBRARY overrides the bundled library")
    assert "QUANTIZE_LIBRARY" not in os.environ or not INSTALLED
    package_dir = os.path.dirname(os.path.abspath(quantize.__file__))
    assert os.path.dirname(os.path.abspath(quantize.library_path)) == package_dir
    assert os.path.isfile(quantize.library_path)


def test_installed_from_a_platform_wheel_with_the_library():
    dist = _distribution()
    assert dist.version == quantize.__version__  # the crate's version, from Cargo.toml
    wheel = dist.read_text("WHEEL") or ""
    assert "Root-Is-Purelib: false" in wheel, wheel
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    assert tags and all(t.startswith("py3-none-") and not t.endswith("-any") for t in tags), tags
    files = [str(f).replace(os.sep, "/") for f in dist.files or []]
    library = os.path.basename(quantize.library_path)
    assert "quantize/" + library in files, files
    assert "quantize/py.typed" in files, files  # PEP 561: the package's type hints are used
    if INSTALLED:
        assert os.path.abspath(quantize.__file__).startswith(os.path.abspath(sys.prefix))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF only")
def test_bundled_library_has_the_soname():
    import subprocess
    import shutil

    if not shutil.which("readelf"):
        pytest.skip("readelf not installed")
    out = subprocess.run(
        ["readelf", "-d", quantize.library_path], stdout=subprocess.PIPE, universal_newlines=True
    ).stdout
    major = quantize.version().split(".")[0]
    assert "Library soname: [libquantize.so.%s]" % major in out, out
