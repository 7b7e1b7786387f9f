"""The Python recipe of README.md runs verbatim (its C and C++ recipes are compiled and run
by scripts/test_install.sh)."""

import contextlib
import io
import os
import re

USING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def fenced_blocks(language):
    with open(USING, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```%s\n(.*?)^```$" % re.escape(language), text, re.M | re.S)


def test_python_recipe_runs():
    blocks = fenced_blocks("python")
    assert len(blocks) == 1
    ns = {"__name__": "__using__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], USING, "exec"), ns)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert re.match(r"max error \d+\.\d{4} at \d+, SQNR \d+\.\d dB$", lines[0]), lines[0]
    # the comment in the recipe shows the start of this line
    assert lines[1].startswith(
        "quantize_to_int4: the value at index 1 of values (nan) is NaN or infinite; "
    )
    assert "QUANTIZE_ERR_NON_FINITE" in lines[1]


def test_c_and_cpp_recipes_are_there_for_test_install():
    assert len(fenced_blocks("c")) == 1
    assert len(fenced_blocks("cpp")) == 1
