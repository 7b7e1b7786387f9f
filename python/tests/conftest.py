import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

sys.path.insert(0, HERE)  # q4ref, rst


def pytest_report_header(config):
    import quantize

    return "quantize %s from %s, library %s, kernel %s" % (
        quantize.__version__,
        os.path.dirname(quantize.__file__),
        quantize.library_path,
        quantize.kernel_name(),
    )


@pytest.fixture(scope="session")
def repo():
    return REPO
