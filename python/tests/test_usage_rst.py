"""Every code block of docs/seed/USAGE.rst, run verbatim, in order, one namespace per top-level
section (as a reader typing them into one session would), stdout captured; the printed values
and the variables left behind are checked against q4ref, the independent rendering of the
README's "Numeric rules (int4)"."""

import contextlib
import io
import os

import numpy as np
import pytest

import q4ref
import rst

USAGE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "seed", "USAGE.rst"
)


def _read_blocks():
    with open(USAGE, encoding="utf-8") as f:
        return rst.parse(f.read())


BLOCKS = _read_blocks()


@pytest.fixture(scope="module")
def runs():
    """[(block, stdout, namespace after the block)] for every block, in document order."""
    out = []
    namespaces = {}
    for block in BLOCKS:
        assert block.language == "python", block
        ns = namespaces.setdefault(block.sections[:1], {"__name__": "__usage__"})
        buf = io.StringIO()
        code = compile(block.code, "%s:%d" % (USAGE, block.line), "exec")
        with contextlib.redirect_stdout(buf):
            exec(code, ns)
        out.append((block, buf.getvalue(), dict(ns)))
    return out


def lines(*pairs):
    """What ``print(label, value)`` prints for each pair (or ``print(label)`` for a str)."""
    text = ""
    for pair in pairs:
        if isinstance(pair, str):
            text += pair + "\n"
        else:
            label, value = pair
            text += "%s %s\n" % (label, value)
    return text


def assert_codes(actual, expected):
    assert isinstance(actual, np.ndarray) and actual.dtype == np.int8, repr(actual)
    np.testing.assert_array_equal(actual, expected)


def assert_floats(actual, expected):
    assert isinstance(actual, np.ndarray) and actual.dtype == np.float32, repr(actual)
    np.testing.assert_array_equal(q4ref.bits(actual), q4ref.bits(expected))


def assert_params(scale, zero_point, ref_scale, ref_zero_point):
    assert type(scale) is float and scale == ref_scale, (scale, ref_scale)
    assert type(zero_point) is int and zero_point == ref_zero_point, (zero_point, ref_zero_point)


def test_parser_found_every_block():
    titles = [b.sections[-1] for b in BLOCKS]
    assert titles == [
        "Quantizing Values",
        "Dequantizing Values",
        "MinMax Scaling",
        "AbsMax Scaling",
        "Packing Int4 Values",
        "Unpacking Int8 Values",
        "Complete Example",
        "Analyzing Quantization Error",
    ]
    assert all(b.sections[0] == "Usage" for b in BLOCKS)
    assert BLOCKS[0].code.startswith("from quantize import quantize_to_int4\n")


def test_every_block_runs_and_prints_the_reference_values(runs):
    # The blocks build on each other exactly as the document reads; follow them with q4ref.
    (b1, out1, ns1), (b2, out2, ns2), (b3, out3, ns3), (b4, out4, ns4) = runs[:4]
    (b5, out5, ns5), (b6, out6, ns6), (b7, out7, ns7), (b8, out8, ns8) = runs[4:]

    # Quantizing Values: minmax of a Python list.
    values = ns1["float_values"]
    q, s, z = q4ref.quantize(values, "minmax")
    assert_codes(ns1["quantized_values"], q)
    assert_params(ns1["scale"], ns1["zero_point"], s, z)
    assert out1 == lines(("Quantized values:", q), ("Scale factor:", s), ("Zero point:", z))

    # Dequantizing Values.
    y = q4ref.dequantize(q, s, z)
    assert_floats(ns2["dequantized_values"], y)
    assert out2 == lines(("Dequantized values:", y))

    # MinMax Scaling, then AbsMax Scaling (they print nothing).
    assert out3 == "" and out4 == ""
    assert_codes(ns3["quantized_values"], q)
    assert_params(ns3["scale"], ns3["zero_point"], s, z)
    qa, sa, za = q4ref.quantize(values, "absmax")
    assert za == 0
    assert_codes(ns4["quantized_values"], qa)
    assert_params(ns4["scale"], ns4["zero_point"], sa, za)

    # Packing / unpacking the absmax codes (the last ones the reader computed).
    packed = q4ref.pack(qa)
    assert_codes(ns5["packed_values"], packed)
    assert out5 == lines(("Packed values (int8):", packed), "Memory usage reduced by 50%")
    unpacked = q4ref.unpack(packed)
    assert len(unpacked) == 2 * len(packed)
    assert_codes(ns6["unpacked_values"], unpacked)
    assert out6 == lines(("Unpacked values (int4):", unpacked))

    # Complete Example: a float64 numpy array, dequantized without its zero point (as written).
    values7 = ns7["float_values"]
    assert isinstance(values7, np.ndarray) and values7.dtype == np.float64
    q7, s7, z7 = q4ref.quantize(values7, "minmax")
    packed7 = q4ref.pack(q7)
    unpacked7 = q4ref.unpack(packed7)
    y7 = q4ref.dequantize(q7, s7, 0)
    err7 = values7 - y7
    assert_codes(ns7["quantized"], q7)
    assert_params(ns7["scale"], ns7["zero_point"], s7, z7)
    assert_codes(ns7["packed"], packed7)
    assert_codes(ns7["unpacked"], unpacked7)
    assert_floats(ns7["dequantized"], y7)
    assert out7 == lines(
        ("Original values:", values7),
        ("Quantized values (int4):", q7),
        ("Scale factor:", s7),
        ("Packed values (int8):", packed7),
        "Memory usage reduced by 50%",
        ("Unpacked values (int4):", unpacked7[: len(values7)]),
        ("Dequantized values:", y7),
        ("Quantization error:", err7),
        ("Mean absolute error:", np.mean(np.abs(err7))),
    )

    # Analyzing Quantization Error.
    assert out8 == lines(
        ("Error per value:", err7),
        ("Mean absolute error:", np.mean(np.abs(err7))),
        ("Max absolute error:", np.max(np.abs(err7))),
    )


def test_the_documented_round_trip_is_within_half_a_scale(runs):
    # The rules' invariant (|x - y| <= scale / 2), on the document's own data, when the zero point is passed back.
    _block, _out, ns = runs[1]
    from quantize import dequantize_from_int4

    values = np.asarray(ns["float_values"], dtype=np.float32)
    y = dequantize_from_int4(ns["quantized_values"], ns["scale"], ns["zero_point"])
    assert np.all(np.abs(values - y) <= ns["scale"] / 2 * (1 + 1e-6))
