"""Status codes become exceptions that name the problem."""

import numpy as np
import pytest

import quantize
from quantize import (
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    QuantizeError,
    ValueOutOfRangeError,
    dequantize_from_int4,
    quantize_to_int4,
)
from quantize.quantize import (
    dequantize_from_int4_packed,
    dequantize_int4_groups,
    measure_error,
    pack_int4_to_int8,
    quantize_int4_groups,
    quantize_to_int4_packed,
)

STATUSES = {
    1: ("QUANTIZE_ERR_NULL_POINTER", quantize.NullPointerError),
    2: ("QUANTIZE_ERR_INVALID_ARGUMENT", quantize.InvalidArgumentError),
    3: ("QUANTIZE_ERR_EMPTY_INPUT", quantize.EmptyInputError),
    4: ("QUANTIZE_ERR_NON_FINITE", quantize.NonFiniteError),
    5: ("QUANTIZE_ERR_BUFFER_TOO_SMALL", quantize.BufferTooSmallError),
    6: ("QUANTIZE_ERR_VALUE_OUT_OF_RANGE", quantize.ValueOutOfRangeError),
    7: ("QUANTIZE_ERR_LENGTH", quantize.LengthError),
    8: ("QUANTIZE_ERR_MISALIGNED", quantize.MisalignedError),
    9: ("QUANTIZE_ERR_OVERLAP", quantize.OverlapError),
    99: ("QUANTIZE_ERR_INTERNAL", quantize.InternalError),
}


def check_error(excinfo, cls, *words):
    err = excinfo.value
    assert type(err) is cls
    assert isinstance(err, QuantizeError) and isinstance(err, ValueError)
    name, _ = STATUSES[err.status]
    assert err.name == name and err.status == cls.status
    assert err.message == quantize.status_message(err.status)
    text = str(err)
    assert text.endswith("(%s)" % name), text
    if err.detail:  # the specific detail replaces the library's generic text
        assert err.message not in text, text
        assert text == "%s: %s (%s)" % (err.function, err.detail, name)
    else:
        assert err.message in text
    for word in words:
        assert word in text, (word, text)
    return err


def test_every_status_has_a_class_and_a_library_message():
    for status, (name, cls) in STATUSES.items():
        assert issubclass(cls, QuantizeError) and issubclass(cls, ValueError)
        assert cls.status == status
        message = quantize.status_message(status)
        assert message and message.strip() == message
        err = cls()
        assert err.name == name and err.message == message
    assert quantize.status_message(12345)  # the library answers any integer


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_input(bad):
    values = [0.5, -1.0, bad, 2.0]
    for call in (quantize_to_int4, quantize_to_int4_packed, lambda v: quantize_int4_groups(v, 2)):
        with pytest.raises(NonFiniteError) as excinfo:
            call(values)
        check_error(excinfo, NonFiniteError, "index 2", repr(bad))
    with pytest.raises(NonFiniteError) as excinfo:
        measure_error([1.0, 2.0], [1.0, bad])
    check_error(excinfo, NonFiniteError, "index 1 of restored")


def test_nan_message_reads_well():
    with pytest.raises(ValueError, match=r"NaN") as excinfo:
        quantize_to_int4(np.array([1.0, np.nan], dtype=np.float32))
    assert str(excinfo.value) == (
        "quantize_to_int4: the value at index 1 of values (nan) is NaN or infinite; "
        "the values must be finite (QUANTIZE_ERR_NON_FINITE)"
    )


def test_a_detail_is_not_followed_by_an_unrelated_status_text():
    # The binding's own size check borrows INVALID_ARGUMENT to pick the class; the library's
    # text for that status ("unknown enum value, ...") says nothing about this failure.
    with pytest.raises(InvalidArgumentError) as excinfo:
        measure_error([1, 2], [1])
    assert str(excinfo.value) == (
        "quantize_measure_error: original has 2 elements but restored has 1; they must have as "
        "many (QUANTIZE_ERR_INVALID_ARGUMENT)"
    )
    assert "enum" not in str(excinfo.value)


def test_exception_classes_are_documented():
    for _name, cls in STATUSES.values():
        assert cls.__doc__ and cls.__doc__ != QuantizeError.__doc__, cls
    assert QuantizeError.__doc__


def test_bad_scale_method():
    for call in (quantize_to_int4, quantize_to_int4_packed):
        with pytest.raises(InvalidArgumentError) as excinfo:
            call([1.0, 2.0], scale_method="maxabs")
        check_error(excinfo, InvalidArgumentError, "scale_method", "'maxabs'", "'minmax'")
    with pytest.raises(InvalidArgumentError) as excinfo:
        quantize_int4_groups([1.0, 2.0], 2, scale_method="MinMax")
    check_error(excinfo, InvalidArgumentError, "'MinMax'")
    # a number goes to the library, which rejects unknown enum values itself
    with pytest.raises(InvalidArgumentError) as excinfo:
        quantize_to_int4([1.0, 2.0], scale_method=7)
    check_error(excinfo, InvalidArgumentError, "quantize_to_int4")
    assert quantize_to_int4([1.0, 2.0], scale_method=quantize.SCALE_ABSMAX)[2] == 0
    with pytest.raises(TypeError):
        quantize_to_int4([1.0], scale_method=None)


@pytest.mark.parametrize("bad", [8, -9, 127, -128, 300])
def test_out_of_range_int4_codes(bad):
    codes = [0, 1, bad, 2]
    with pytest.raises(ValueOutOfRangeError) as excinfo:
        dequantize_from_int4(codes, 0.5)
    check_error(excinfo, ValueOutOfRangeError, "index 2", "(%d)" % bad, "-8..7")
    with pytest.raises(ValueOutOfRangeError) as excinfo:
        pack_int4_to_int8(np.array(codes, dtype=np.int16))
    check_error(excinfo, ValueOutOfRangeError, "index 2", "(%d)" % bad)


@pytest.mark.parametrize("bad", [8, -9, 1000])
def test_out_of_range_zero_point(bad):
    with pytest.raises(ValueOutOfRangeError) as excinfo:
        dequantize_from_int4([0, 1], 0.5, bad)
    check_error(excinfo, ValueOutOfRangeError, "zero_point=%d" % bad)
    with pytest.raises(ValueOutOfRangeError) as excinfo:
        dequantize_from_int4_packed(b"\x01", 0.5, bad)
    check_error(excinfo, ValueOutOfRangeError, "zero_point=%d" % bad)
    with pytest.raises(ValueOutOfRangeError) as excinfo:
        dequantize_int4_groups(b"\x01", 2, [1.0], [bad])
    check_error(excinfo, ValueOutOfRangeError, "index 0 of zero_points")


def test_non_finite_scale():
    for scale in (float("nan"), float("inf"), 1e300):
        with pytest.raises(NonFiniteError) as excinfo:
            dequantize_from_int4([0, 1], scale)
        check_error(excinfo, NonFiniteError, "scale")
    with pytest.raises(NonFiniteError) as excinfo:
        dequantize_int4_groups(b"\x01\x02", 2, [1.0, float("nan")])
    check_error(excinfo, NonFiniteError, "index 1 of scales")


def test_values_too_large():
    with pytest.raises(ValueOutOfRangeError) as excinfo:
        quantize_to_int4([1.0, 2.0**127])
    check_error(excinfo, ValueOutOfRangeError, "index 1", "2^126")
    with pytest.raises(ValueOutOfRangeError) as excinfo:  # not even a float32
        quantize_to_int4(np.array([1.0, -1e300]))
    check_error(excinfo, ValueOutOfRangeError, "index 1", "float32")


def test_empty_input_and_bad_sizes():
    for call in (quantize_to_int4, quantize_to_int4_packed):
        with pytest.raises(EmptyInputError) as excinfo:
            call([])
        check_error(excinfo, EmptyInputError)
    with pytest.raises(EmptyInputError):
        measure_error([], [])
    with pytest.raises(InvalidArgumentError) as excinfo:
        quantize_int4_groups([1.0, 2.0], 0)
    check_error(excinfo, InvalidArgumentError, "quantize_int4_groups")
    with pytest.raises(InvalidArgumentError):
        quantize_int4_groups([1.0, 2.0], -1)
    with pytest.raises(InvalidArgumentError) as excinfo:
        measure_error([1.0, 2.0], [1.0])
    check_error(excinfo, InvalidArgumentError, "2 elements", "has 1")
    with pytest.raises(quantize.BufferTooSmallError):
        dequantize_int4_groups(b"\x01\x02", 2, [1.0])  # 4 values need 2 scales


def test_wrong_types():
    with pytest.raises(TypeError):
        quantize_to_int4(["a", "b"])
    with pytest.raises(TypeError):
        quantize_to_int4([1 + 2j])
    with pytest.raises(TypeError):
        dequantize_from_int4([0.5, 1.0], 1.0)  # codes must be integers
    with pytest.raises(TypeError):
        dequantize_from_int4([1, 2], 1.0, 0.5)
