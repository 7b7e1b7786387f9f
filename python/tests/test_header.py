"""The binding declares every function of include/quantize.h, with the header's types."""

import ctypes
import os
import re

from quantize import _ffi

HEADER = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "quantize.h"
)

C_TYPES = {
    "quantize_status": ctypes.c_int32,
    "quantize_scale_method": ctypes.c_uint32,
    "quantize_codebook": ctypes.c_uint32,
    "quantize_block_format": ctypes.c_uint32,
    "quantize_float_type": ctypes.c_uint32,
    "const void*": ctypes.c_void_p,
    "void*": ctypes.c_void_p,
    "uint32_t": ctypes.c_uint32,
    "size_t": ctypes.c_size_t,
    "float": ctypes.c_float,
    "int8_t": ctypes.c_int8,
    "const char*": ctypes.c_char_p,
    "float*": ctypes.POINTER(ctypes.c_float),
    "const float*": ctypes.POINTER(ctypes.c_float),
    "int8_t*": ctypes.POINTER(ctypes.c_int8),
    "const int8_t*": ctypes.POINTER(ctypes.c_int8),
    "uint8_t*": ctypes.POINTER(ctypes.c_uint8),
    "const uint8_t*": ctypes.POINTER(ctypes.c_uint8),
    "struct quantize_error_stats*": ctypes.POINTER(_ffi.ErrorStatsC),
    "quantize_error_stats*": ctypes.POINTER(_ffi.ErrorStatsC),
}


def _header():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"^\s*#[^\n]*", "", text, flags=re.M)


def _type(decl):
    """'const float *src' -> 'const float*' (the parameter name dropped)."""
    decl = " ".join(decl.replace("*", " * ").split())
    words = decl.split(" ")
    if words[-1] != "*" and len(words) > 1:
        words = words[:-1]
    return " ".join(words).replace(" *", "*")


def prototypes():
    out = {}
    for ret, name, params in re.findall(r"([\w\s\*]+?)\b(\w+)\s*\(([^()]*)\)\s*;", _header()):
        params = params.strip()
        args = [] if params in ("", "void") else [_type(p) for p in params.split(",")]
        out[name] = (_type(ret + " x"), args)
    return out


def test_every_header_function_is_declared_with_its_types():
    protos = prototypes()
    assert "quantize_to_int4" in protos and len(protos) >= 17, sorted(protos)
    missing = sorted(set(protos) - set(_ffi._FUNCTIONS))
    assert not missing, "functions of quantize.h the binding does not declare: %s" % missing
    extra = sorted(set(_ffi._FUNCTIONS) - set(protos))
    assert not extra, "declared but not in quantize.h: %s" % extra
    for name, (ret, args) in protos.items():
        restype, argtypes = _ffi._FUNCTIONS[name]
        assert C_TYPES[ret] is restype or C_TYPES[ret] == restype, (name, ret)
        assert len(args) == len(argtypes), (name, args)
        for i, (c, py) in enumerate(zip(args, argtypes)):
            assert C_TYPES[c] is py or C_TYPES[c] == py, (name, i, c, py)


def test_error_stats_struct_matches_the_header():
    m = re.search(r"typedef struct quantize_error_stats \{(.*?)\}", _header(), re.S)
    names = []
    for decl in m.group(1).split(";"):
        words = decl.replace(",", " ").split()
        if words:
            names += [(words[0], w) for w in words[1:]]
    assert names == [
        ("double" if f[1] is ctypes.c_double else "size_t", f[0]) for f in _ffi.ErrorStatsC._fields_
    ]


def test_constants_match_the_header():
    import quantize
    from quantize._ffi import STATUS_NAMES

    with open(HEADER, encoding="utf-8") as f:
        defines = dict(re.findall(r"^#define (QUANTIZE_\w+) (-?\d+)\s*$", f.read(), re.M))
    for status, name in STATUS_NAMES.items():
        assert int(defines[name]) == status, name
    assert int(defines["QUANTIZE_SCALE_MINMAX"]) == quantize.SCALE_MINMAX
    assert int(defines["QUANTIZE_SCALE_ABSMAX"]) == quantize.SCALE_ABSMAX
    assert int(defines["QUANTIZE_CODEBOOK_NF4"]) == quantize.CODEBOOK_NF4
    assert int(defines["QUANTIZE_CODEBOOK_FP4"]) == quantize.CODEBOOK_FP4
    assert (
        int(defines["QUANTIZE_VERSION_MAJOR"]) * 10000
        + int(defines["QUANTIZE_VERSION_MINOR"]) * 100
        + int(defines["QUANTIZE_VERSION_PATCH"])
        == quantize.version_number()
    )
