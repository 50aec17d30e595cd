"""Acceptance tests of value files (format 1.2): ``mle.dump`` / ``mle.load`` of any Python
value that is not a bare model (pandas objects are tested elsewhere).

What "round trip" means here (``check_same``): the loaded value has the same structure and the
same exact types at every level (``dict`` stays ``dict``, ``OrderedDict`` stays
``OrderedDict``, ``np.float32`` stays ``np.float32``...), the same values bit for bit (NaN,
-0.0, subnormals, huge integers, lone surrogates), and numpy arrays keep dtype (byte order
included), shape and memory order (C-contiguous stays C, Fortran stays F; views come back
C-contiguous). Arrays are ordinary writable ``np.ndarray`` objects with ``mmap_mode=None``,
read-only ``np.memmap`` maps of the file with 'r', writable copy-on-write maps with 'c' (the
file never changes), and 'r+'/'w+' are refused.

Models inside values are real fitted models (scikit-learn Pipeline on iris, RandomForest,
XGBoost and LightGBM on breast cancer) that must predict bit for bit like the same models
dumped alone, and like the originals.

The pickle section is opt-in both ways; THE test of that (``test_pickle_payload_never_runs``)
stores a payload that creates a file when unpickled and shows that no load without
``allow_pickle=True`` creates it, while one with it does.
"""

import collections
import datetime
import decimal
import gc
import io
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import zoneinfo

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import (DecryptionError, FormatError, PickleNotAllowedError, SignatureError,
                         UnsupportedModelError)
from mle_runtime.format import layout as L
from mle_runtime.api import value_hooks
from mle_runtime.format import values, writer
from mle_runtime.runtime.proxies import MLEModel

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

RNG_SEED = 20240607


# ------------------------------------------------------------------------------ comparison

def _float_same(a, b):
    if math.isnan(a):
        return math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


def check_same(expected, got, where="value", array_type=np.ndarray):
    """Asserts that ``got`` is a faithful copy of ``expected`` (see the module docstring).
    ``array_type``: the class expected for non-empty, non-object arrays."""
    te, tg = type(expected), type(got)
    if te is np.memmap:
        te = np.ndarray
    if isinstance(expected, np.ndarray):
        if expected.dtype.hasobject or expected.size == 0:
            assert isinstance(got, np.ndarray), f"{where}: {tg.__name__}, expected an array"
        else:
            assert tg is array_type, f"{where}: {tg.__name__}, expected {array_type.__name__}"
        check_array(expected, got, where, array_type)
        return
    assert tg is te, f"{where}: type {tg.__module__}.{tg.__qualname__}, expected " \
                     f"{te.__module__}.{te.__qualname__}"
    if isinstance(expected, np.generic):
        assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
        assert same_contents(np.asarray(expected), np.asarray(got)), \
            f"{where}: {got!r} != {expected!r}"
    elif te is float:
        assert _float_same(expected, got), f"{where}: {got!r} != {expected!r}"
    elif te is complex:
        assert _float_same(expected.real, got.real) and _float_same(expected.imag, got.imag), \
            f"{where}: {got!r} != {expected!r}"
    elif te in (dict, collections.OrderedDict):
        assert len(got) == len(expected), f"{where}: {len(got)} keys, expected {len(expected)}"
        for i, (ke, kg) in enumerate(zip(expected, got)):  # same keys in the same order
            check_same(ke, kg, f"{where} key {i}")
        for k in expected:
            check_same(expected[k], got[k], f"{where}[{k!r}]", array_type)
    elif te in (list, tuple):
        assert len(got) == len(expected), f"{where}: length {len(got)} != {len(expected)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            check_same(e, g, f"{where}[{i}]", array_type)
    elif te in (set, frozenset):
        assert got == expected, f"{where}: {got!r} != {expected!r}"
        for e in expected:  # the elements' exact types too
            [g] = [g for g in got if g == e]
            check_same(e, g, f"{where}{{{e!r}}}")
    elif te is decimal.Decimal:
        assert str(got) == str(expected), f"{where}: {got!r} != {expected!r}"
    elif te in (datetime.datetime, datetime.time, datetime.date, datetime.timedelta,
                datetime.timezone, zoneinfo.ZoneInfo):
        # repr names the fold, the time zone (key, offset and name) and every field
        assert repr(got) == repr(expected), f"{where}: {got!r} != {expected!r}"
        if te in (datetime.datetime, datetime.time):
            assert got.fold == expected.fold and got.tzinfo == expected.tzinfo, where
            if expected.tzinfo is not None:
                assert got.tzname() == expected.tzname(), where
        if te is datetime.timezone:
            assert got.tzname(None) == expected.tzname(None), where
    elif te is MLEModel:
        assert got._native.file_bytes() == expected._native.file_bytes(), where
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


def check_array(expected, got, where, array_type=np.ndarray):
    assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
    assert got.dtype.str == expected.dtype.str, f"{where}: byte order {got.dtype.str}"
    assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
    if expected.flags.c_contiguous:
        assert got.flags.c_contiguous, f"{where}: C order lost"
    elif expected.flags.f_contiguous:
        assert got.flags.f_contiguous, f"{where}: Fortran order lost"
    else:  # a view: stored and loaded as a C-contiguous copy
        assert got.flags.c_contiguous, f"{where}: a view should load C-contiguous"
    if expected.dtype.hasobject:
        for idx in np.ndindex(expected.shape):
            check_same(expected[idx], got[idx], f"{where}[{idx}]", array_type)
        return
    assert same_contents(expected, got), f"{where}: contents differ"
    if expected.dtype.kind in "biufc" and expected.dtype.names is None:
        np.testing.assert_array_equal(got, expected, err_msg=where)


def same_contents(expected, got):
    """Bit-exact equality of two non-object arrays of one dtype, field by field (padding
    bytes between fields are not data: numpy's copies need not keep them) and value by value
    for long doubles (whose storage has unused bytes)."""
    if expected.dtype.names is not None:
        return all(same_contents(expected[n], got[n]) for n in expected.dtype.names)
    if expected.dtype.subdtype is not None:
        return same_contents(expected.view(expected.dtype.base), got.view(got.dtype.base))
    if expected.dtype.kind in "fc" and expected.dtype.itemsize > (8 if expected.dtype.kind == "f"
                                                                  else 16):
        parts = [(expected, got)] if expected.dtype.kind == "f" else \
            [(expected.real, got.real), (expected.imag, got.imag)]
        return all(np.array_equal(e, g, equal_nan=True) and
                   np.array_equal(np.signbit(e), np.signbit(g)) for e, g in parts)
    return np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(expected).tobytes()


def roundtrip(value, tmp_path, name="value.mle", **load_kw):
    path = tmp_path / name
    assert mle.dump(value, path) == [str(path)]
    return mle.load(path, **load_kw)


def file_meta(path):
    return mle.inspect_model(path)["metadata"]


# ------------------------------------------------------------------------------ plain values

def _cases():
    rng = np.random.default_rng(RNG_SEED)
    odict = collections.OrderedDict([("z", 1), ("a", [2.5, None]), ("m", {"k": "v"})])
    odict.move_to_end("z")
    return {
        # dicts: str keys (order kept), every hashable key type, mixed keys
        "dict str keys": {"b": 1, "a": 2, "": 3, "é✓": 4, "\ud800": 5, "\x00": 6},
        "dict int keys": {3: "c", -1: "a", 2 ** 80: "big", 0: None},
        "dict float keys": {1.5: 1, -0.0: 2, float("inf"): 3, 1e-310: 4},
        "dict tuple keys": {(1, "a"): 1, (): 2, ((1, 2), (3,)): 3},
        "dict bool/None keys": {True: "t", False: "f", None: "n"},
        "dict bytes keys": {b"": 0, b"\x00\xff": 1, b"abc": 2},
        "dict frozenset keys": {frozenset(): 0, frozenset({1, 2}): 1, frozenset({"a"}): 2},
        "dict mixed keys": {"s": 1, 2: 2, (3,): 3, None: 4, b"5": 5, 6.5: 6, True: 7},
        "dict empty": {},
        "ordered dict": odict,
        "ordered dict non-str keys": collections.OrderedDict([(2, "b"), (1, "a"), ("x", 0)]),
        "ordered dict empty": collections.OrderedDict(),
        "list": [1, "two", 3.0, None, True, b"six", [7], (8,), {9}],
        "list empty": [],
        "tuple": (1, (2, (3, ())), "x", None),
        "tuple empty": (),
        "tuple single": (5,),
        "set": {1, 2, 3, "a", (4, 5), None, 2.5, b"b", frozenset({6})},
        "set empty": set(),
        "frozenset": frozenset({1, "a", (2, 3), None}),
        "frozenset empty": frozenset(),
        "str ascii": "hello",
        "str empty": "",
        "str non-ascii": "héllo wörld ✓ 日本語 \U0001f600 \u200b\x7f",
        "str lone surrogates": "a\ud800b\udfffc\udbff",
        "str control characters": "\x00\x01\n\t\"\\/\x1f",
        "str long": "abcdefghij" * 100_000,
        "bytes": bytes(range(256)),
        "bytes empty": b"",
        "bytes random": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "bytearray": bytearray(b"\x00mutable\xff"),
        "bytearray empty": bytearray(),
        "int small": [0, 1, -1, 42, -42],
        "int int64 edges": [2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1, 2 ** 64, -2 ** 64,
                            2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 32, 2 ** 31 - 1],
        "int huge": 3 ** 2000,
        "int negative huge": -(7 ** 1500),
        "float": [0.0, -0.0, 1.5, -2.25, 1 / 3, 1e308, -1e-308, 2.0 ** -1074, 2.0 ** -1022 / 3,
                  math.pi, float("nan"), float("inf"), float("-inf"), 5e-324,
                  1.7976931348623157e308],
        "float nan alone": float("nan"),
        "float -0.0 alone": -0.0,
        "complex": [1 + 2j, complex(-0.0, 0.0), complex(float("nan"), float("inf")),
                    complex(0, -float("inf")), 1e-320j],
        "bool": [True, False],
        "bool alone": True,
        "none": None,
        "decimal": [decimal.Decimal("1.2300"), decimal.Decimal("-0"), decimal.Decimal("NaN"),
                    decimal.Decimal("-Infinity"), decimal.Decimal("1E+1000"),
                    decimal.Decimal("3.14159265358979323846264338327950288419716939937510"),
                    decimal.Decimal("sNaN")],
        "range": [range(10), range(-5, 5, 3), range(10, 0, -2), range(0), range(2 ** 70,
                                                                               2 ** 71, 2 ** 60)],
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_python_values(name, tmp_path):
    value = CASES[name]
    check_same(value, roundtrip(value, tmp_path))


def test_set_and_dict_elements_keep_their_types(tmp_path):
    # 1 == 1.0 == True: a set or dict key of each type must not collapse into another type
    value = [{1, 2.5, "1"}, {True: "bool"}, {1.0: "float"}, {1: "int"}, frozenset({0.0, "0"})]
    out = roundtrip(value, tmp_path)
    check_same(value, out)
    assert type(next(iter(out[1]))) is bool and type(next(iter(out[2]))) is float


# ------------------------------------------------------------------------------ datetimes

def _datetime_cases():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    ny = zoneinfo.ZoneInfo("America/New_York")
    ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30), "IST")
    return {
        "naive": datetime.datetime(2021, 3, 4, 5, 6, 7, 890123),
        "min/max": [datetime.datetime.min, datetime.datetime.max],
        "utc": datetime.datetime(2020, 2, 29, 23, 59, 59, tzinfo=datetime.timezone.utc),
        "fixed offset with name": datetime.datetime(2022, 1, 1, 12, tzinfo=ist),
        "fixed offset without name": datetime.datetime(
            2022, 1, 1, tzinfo=datetime.timezone(-datetime.timedelta(hours=3, minutes=15))),
        "fixed offset, seconds": datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone(
            datetime.timedelta(seconds=561))),
        "zoneinfo": datetime.datetime(2023, 7, 14, 10, 30, tzinfo=paris),
        "zoneinfo fold=1": datetime.datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=ny),
        "zoneinfo fold=0": datetime.datetime(2021, 11, 7, 1, 30, fold=0, tzinfo=ny),
        "naive fold=1": datetime.datetime(2021, 11, 7, 1, 30, fold=1),
        "date": [datetime.date(2000, 1, 1), datetime.date.min, datetime.date.max],
        "time": [datetime.time(0), datetime.time(23, 59, 59, 999999),
                 datetime.time(1, 2, 3, 4, tzinfo=ist), datetime.time(4, 5, fold=1),
                 datetime.time(6, tzinfo=datetime.timezone.utc)],
        "timedelta": [datetime.timedelta(0), datetime.timedelta(days=-3, microseconds=7),
                      datetime.timedelta.max, datetime.timedelta.min,
                      datetime.timedelta(microseconds=1)],
        "tzinfo objects": [datetime.timezone.utc, ist, paris, ny,
                           datetime.timezone(datetime.timedelta(hours=-12)),
                           datetime.timezone(datetime.timedelta(0), "GMT")],
        "tzinfo alone": paris,
    }


DATETIME_CASES = _datetime_cases()


@pytest.mark.parametrize("name", sorted(DATETIME_CASES))
def test_round_trip_datetimes(name, tmp_path):
    value = DATETIME_CASES[name]
    check_same(value, roundtrip(value, tmp_path))


def test_time_zones_are_the_same_objects(tmp_path):
    """timezone.utc and ZoneInfo zones come back as the interpreter's own objects (equality of
    aware datetimes and ``is`` comparisons behave as with the originals)."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    out = roundtrip([datetime.timezone.utc, paris,
                     datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)], tmp_path)
    assert out[0] is datetime.timezone.utc
    assert out[1] is paris
    assert out[2].tzinfo is datetime.timezone.utc


def test_zoneinfo_without_key_is_unsupported(tmp_path):
    path = "/usr/share/zoneinfo/Europe/Paris"
    if not os.path.exists(path):  # tzdata from the Python package instead
        import tzdata  # noqa: F401

        path = os.path.join(os.path.dirname(tzdata.__file__), "zoneinfo", "Europe", "Paris")
    with open(path, "rb") as f:
        tz = zoneinfo.ZoneInfo.from_file(f)
    with pytest.raises(UnsupportedModelError, match=r"value\['when'\].*ZoneInfo built from"):
        mle.dump({"when": datetime.datetime(2020, 1, 1, tzinfo=tz)}, tmp_path / "tz.mle")
    with pytest.raises(TypeError, match="pickle cannot store the object either"):  # nor pickle
        mle.dump({"when": datetime.datetime(2020, 1, 1, tzinfo=tz)}, tmp_path / "tz.mle",
                 allow_pickle=True)
    assert not (tmp_path / "tz.mle").exists()


# ------------------------------------------------------------------------------ numpy scalars

def _scalar_cases():
    out = {"bool_": [np.bool_(True), np.bool_(False)]}
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64):
        info = np.iinfo(t)
        out[t.__name__] = [t(info.min), t(info.max), t(0), t(7)]
    for t in (np.float16, np.float32, np.float64, np.longdouble):
        info = np.finfo(t)
        out[t.__name__] = [t(1.5), t(-0.0), t("nan"), t("inf"), t("-inf"), info.max,
                           info.smallest_subnormal, info.tiny, info.eps]
    out["longdouble precision"] = [np.longdouble(1) / np.longdouble(3)]
    for t in (np.complex64, np.complex128, np.clongdouble):
        out[t.__name__] = [t(complex(1.5, -2)), t(complex(float("nan"), -0.0)),
                           t(complex(float("inf"), 1e-30))]
    for unit in ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"):
        out[f"datetime64[{unit}]"] = [np.datetime64(3, unit), np.datetime64(-7, unit),
                                      np.datetime64("NaT", unit)]
        out[f"timedelta64[{unit}]"] = [np.timedelta64(5, unit), np.timedelta64(-2 ** 62, unit),
                                       np.timedelta64("NaT", unit)]
    out["datetime64 generic"] = [np.datetime64("NaT"), np.timedelta64(4)]
    out["datetime64 ns"] = [np.datetime64("2021-01-02T03:04:05.123456789")]
    out["str_"] = [np.str_("héllo ✓"), np.str_(""), np.str_("a\x00b")]
    out["bytes_"] = [np.bytes_(b"ab\x00c"), np.bytes_(b""), np.bytes_(b"\xff" * 30)]
    out["void"] = [np.void(b"\x00\x01\xfe"), np.void(b"")]
    rec = np.dtype([("a", "<i4"), ("b", ">f8", (2,)), ("s", "U3"), ("c", [("x", "u1")])])
    arr = np.zeros(1, rec)
    arr[0] = (7, (1.5, -2.0), "hé", (9,))
    out["structured void"] = [arr[0]]
    return out


SCALAR_CASES = _scalar_cases()


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_round_trip_numpy_scalars(name, tmp_path):
    value = SCALAR_CASES[name]
    out = roundtrip(value, tmp_path)
    check_same(value, out)
    for e, g in zip(value, out):
        assert type(g) is type(e) and g.dtype == e.dtype


# ------------------------------------------------------------------------------ numpy arrays

def _array_cases():
    rng = np.random.default_rng(RNG_SEED + 1)
    out = {"bool": rng.random(37) < 0.5}
    for t in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"):
        info = np.iinfo(t)
        a = rng.integers(info.min, info.max, 41, dtype=t, endpoint=True)
        a[:2] = (info.min, info.max)
        out[t] = a
    for t in ("f2", "f4", "f8", "g"):
        a = rng.normal(size=(5, 7)).astype(t) * 1000
        a.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, np.finfo(t).smallest_subnormal,
                      np.finfo(t).max]
        out[t] = a
    for t in ("c8", "c16", "G"):
        out[t] = (rng.normal(size=9) + 1j * rng.normal(size=9)).astype(t)
    out["big-endian >i4"] = np.arange(-20, 20, dtype=">i4")
    out["big-endian >u2"] = np.arange(0, 60000, 1500, dtype=">u2")
    out["big-endian >f8"] = rng.normal(size=(4, 3)).astype(">f8")
    out["big-endian >c16"] = (rng.normal(size=6) + 3j).astype(">c16")
    out["big-endian >M8[ns]"] = np.array(["2021-01-01", "NaT", "1970-01-01T00:00:00.5"],
                                         dtype=">M8[ns]")
    out["unicode"] = np.array(["", "a", "héllo", "日本語✓", "\U0001f600x"], dtype="U8")
    out["unicode 2-D"] = np.array([["ab", "cd"], ["é", ""]], dtype=">U3")
    out["bytes"] = np.array([b"", b"a\x00b", b"\xff\xfe", b"abcdef"], dtype="S6")
    out["void"] = np.frombuffer(rng.bytes(24), dtype="V6")
    out["datetime64[ns]"] = np.array(["2021-03-04T05:06:07.123456789", "NaT",
                                      "1677-09-22T00:12:43.145224193"], dtype="M8[ns]")
    out["datetime64[D]"] = np.arange("2020-02-25", "2020-03-03", dtype="M8[D]")
    out["datetime64[s] 2-D"] = np.array([["2000-01-01T00:00:01", "NaT"]] * 3, dtype="M8[s]")
    out["datetime64 generic NaT"] = np.array(["NaT", "NaT"], dtype="M8")
    out["timedelta64[us]"] = np.array([0, -1, 2 ** 40, "NaT"], dtype="m8[us]")
    out["timedelta64[Y]"] = np.array([1, 2], dtype="m8[Y]")
    sdt = np.dtype([("id", "<i8"), ("xy", "<f4", (2,)), ("m", ">f8", (2, 3)), ("name", "U4"),
                    ("raw", "S2"), ("flag", "?"), ("when", "M8[ms]"),
                    ("inner", [("a", "<i2"), ("b", "S3", (2,))])])
    s = np.zeros(6, dtype=sdt)
    s["id"] = rng.integers(-10 ** 12, 10 ** 12, 6)
    s["xy"] = rng.normal(size=(6, 2))
    s["m"] = rng.normal(size=(6, 2, 3))
    s["name"] = ["a", "bé", "", "✓✓", "abcd", "x"]
    s["raw"] = [b"\x00\x01", b"a", b"", b"zz", b"\xff", b"q"]
    s["flag"] = [True, False] * 3
    s["when"] = np.arange(6).astype("M8[ms]")
    s["inner"]["a"] = np.arange(6)
    s["inner"]["b"] = [[b"ab", b"c"]] * 6
    out["structured with subarrays"] = s
    out["structured 2-D"] = s.reshape(2, 3)
    out["structured aligned"] = np.array(
        [(1, 2.5), (3, -1.0)], dtype=np.dtype([("a", "u1"), ("b", "<f8")], align=True))
    gaps = np.zeros(3, dtype=np.dtype(
        {"names": ["a", "b"], "formats": ["<i4", "<f4"], "offsets": [0, 8], "itemsize": 16}))
    gaps["a"], gaps["b"] = [1, -2, 3], [0.5, np.nan, -0.0]
    out["structured with offsets"] = gaps
    out["structured with titles"] = np.array(
        [(1,), (2,)], dtype=np.dtype({"names": ["a"], "formats": ["<i4"], "titles": ["A t"]}))
    out["0-d float"] = np.array(2.5)
    out["0-d int8"] = np.array(-3, dtype="i1")
    out["0-d structured"] = np.zeros((), dtype=sdt)
    out["0-d unicode"] = np.array("hé")
    out["empty"] = np.zeros(0)
    out["empty 2-D"] = np.zeros((3, 0), dtype="u2")
    out["empty 3-D F"] = np.asfortranarray(np.zeros((2, 0, 4), dtype=">i8"))
    out["empty unicode"] = np.zeros((0, 2), dtype="U5")
    out["empty structured"] = np.zeros(0, dtype=sdt)
    out["F-ordered 2-D"] = np.asfortranarray(rng.normal(size=(6, 4)))
    out["F-ordered 3-D"] = np.asfortranarray(rng.integers(0, 100, (3, 4, 5), dtype="i2"))
    out["F-ordered structured"] = np.asfortranarray(s.reshape(2, 3))
    out["F-ordered unicode"] = np.asfortranarray(np.array([["a", "bb"], ["ccc", "é"]]))
    base = rng.normal(size=(10, 12))
    out["view strided"] = base[::3, 1::4]
    out["view reversed"] = base[::-1]
    out["view transposed strided"] = base.T[::2]
    out["view column"] = base[:, 5]
    out["view of structured field"] = s["xy"]
    out["view negative strides 3-D"] = rng.normal(size=(4, 5, 6))[::-1, :, ::-2]
    out["4-D"] = rng.normal(size=(2, 3, 4, 5))
    out["6-D"] = rng.integers(0, 9, (2, 1, 3, 1, 2, 2)).astype("u1")
    out["32-D"] = np.arange(6, dtype="f4").reshape((1,) * 30 + (2, 3))
    out["large (memory-mappable)"] = rng.normal(size=(300, 40))
    out["large int32 F"] = np.asfortranarray(rng.integers(-5, 5, (200, 30), dtype="i4"))
    return out


ARRAY_CASES = _array_cases()


@pytest.mark.parametrize("name", sorted(ARRAY_CASES))
def test_round_trip_numpy_arrays(name, tmp_path):
    a = ARRAY_CASES[name]
    # joblib's restoration: in memory (mmap_mode=None), arrays in the other byte order come
    # back with the same values in the machine's byte order; ensure_native_byte_order=False
    # keeps the stored order
    native = _joblib_native_order(a)
    out = roundtrip(a, tmp_path)
    check_same(native, out)
    assert type(out) is np.ndarray
    assert out.flags.writeable and out.flags.owndata  # the caller's own memory
    if a.size:
        out[...] = np.zeros((), dtype=out.dtype)  # writable
    check_same(a, mle.load(tmp_path / "value.mle", ensure_native_byte_order=False))
    b = a.copy(order="K")  # contiguous, in the order of a's strides
    nested = roundtrip({"a": [a, (b,)]}, tmp_path, "nested.mle")
    check_same(native, nested["a"][0])
    check_same(_joblib_native_order(b), nested["a"][1][0])


def _joblib_native_order(a):
    from joblib.numpy_pickle_utils import _ensure_native_byte_order

    return _ensure_native_byte_order(a)


@pytest.mark.parametrize("name", ["F-ordered 2-D", "structured with subarrays", "unicode",
                                  "big-endian >f8", "0-d float", "large (memory-mappable)",
                                  "view strided", "datetime64[ns]", "F-ordered structured",
                                  "6-D"])
@pytest.mark.parametrize("mmap_mode", ["r", "c"])
def test_round_trip_numpy_arrays_mapped(name, mmap_mode, tmp_path):
    a = ARRAY_CASES[name]
    path = tmp_path / "a.mle"
    mle.dump({"a": a}, path)
    out = mle.load(path, mmap_mode=mmap_mode)["a"]
    check_same(a, out, array_type=np.memmap)
    assert out.mode == mmap_mode
    assert os.path.samefile(out.filename, path)
    # the map is the file's own bytes at out.offset
    data = path.read_bytes()
    raw = np.ascontiguousarray(out.T if out.flags.f_contiguous and not out.flags.c_contiguous
                               else out).tobytes()
    assert data[out.offset:out.offset + out.nbytes] == raw


def test_object_arrays(tmp_path):
    rng = np.random.default_rng(RNG_SEED + 2)
    items = [1, "a", None, 2.5, (1, 2), {"k": [1]}, rng.normal(size=3), datetime.date(2020, 1, 2),
             b"x", [np.int8(3)], 2 ** 100, np.float32(1.5)]
    flat = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        flat[i] = v
    zero_d = np.empty((), dtype=object)
    zero_d[()] = {"nested": [1, 2]}
    value = {"flat": flat, "2-D": flat.reshape(3, 4), "F": np.asfortranarray(flat.reshape(4, 3)),
             "view": flat.reshape(3, 4)[::2, ::-1], "0-d": zero_d,
             "empty": np.empty((0, 3), dtype=object),
             "strings": np.array(["a", "bb", "é"], dtype=object),
             "nested arrays": np.array([np.arange(3), np.arange(4.0)], dtype=object)}
    for mode in (None, "r", "c"):
        out = roundtrip(value, tmp_path, f"obj{mode}.mle", mmap_mode=mode)
        check_same(value, out, array_type=np.ndarray if mode is None else np.memmap)
        assert type(out["flat"]) is np.ndarray and out["flat"].flags.writeable
        assert type(out["flat"][6]) is (np.ndarray if mode is None else np.memmap)
    # object arrays of what cannot be stored natively name the element
    bad = np.array([1, object()], dtype=object)
    with pytest.raises(UnsupportedModelError, match=r"value\['x'\]\[1\] \(a object\)"):
        mle.dump({"x": bad}, tmp_path / "bad.mle")
    bad2 = np.empty((2, 2), dtype=object)
    bad2[1, 0] = lambda: 0
    with pytest.raises(UnsupportedModelError, match=r"value\[1, 0\]"):
        mle.dump(bad2, tmp_path / "bad.mle")


def test_arrays_that_cannot_be_stored_natively(tmp_path):
    overlapping = np.zeros(2, dtype=np.dtype({"names": ["a", "b"], "formats": ["<i4", "<i2"],
                                              "offsets": [0, 0]}))
    with pytest.raises(UnsupportedModelError, match=r"value\['o'\].*cannot be described"):
        mle.dump({"o": overlapping}, tmp_path / "x.mle")
    out_of_order = np.zeros(2, dtype=np.dtype({"names": ["a", "b"], "formats": ["<i4", "<f4"],
                                               "offsets": [8, 0], "itemsize": 16}))
    with pytest.raises(UnsupportedModelError, match=r"value\[0\].*out-of-order fields"):
        mle.dump([out_of_order], tmp_path / "x.mle")
    strings = np.array(["a", "bc"], dtype=np.dtypes.StringDType())
    with pytest.raises(UnsupportedModelError, match=r"value\['s'\].*variable-width string"):
        mle.dump({"s": strings}, tmp_path / "x.mle")
    structured_objects = np.zeros(2, dtype=[("a", "O"), ("b", "<i4")])
    with pytest.raises(UnsupportedModelError, match=r"value\['p'\].*holds Python objects"):
        mle.dump({"p": structured_objects}, tmp_path / "x.mle")
    # all three go to the pickle section when allowed
    mle.dump({"o": overlapping, "s": strings, "p": structured_objects}, tmp_path / "x.mle",
             allow_pickle=True)
    out = mle.load(tmp_path / "x.mle", allow_pickle=True)
    assert out["o"].dtype == overlapping.dtype and out["s"].tolist() == ["a", "bc"]
    assert out["p"].dtype == structured_objects.dtype


# ------------------------------------------------------------------------------ mmap modes

@pytest.fixture
def array_file(tmp_path):
    rng = np.random.default_rng(RNG_SEED + 3)
    value = {"small": rng.normal(size=(4, 3)), "big": rng.normal(size=(500, 40)),
             "F": np.asfortranarray(rng.integers(0, 9, (30, 20), dtype="i8")),
             "s": np.array(["ab", "é"]), "ints": [1, 2, 3], "b": b"bytes"}
    path = tmp_path / "arrays.mle"
    mle.dump(value, path)
    return path, value


def test_mmap_none_gives_writable_arrays(array_file):
    path, value = array_file
    out = mle.load(path)
    check_same(value, out)
    for k in ("small", "big", "F", "s"):
        a = out[k]
        assert type(a) is np.ndarray and not isinstance(a, np.memmap)
        assert a.flags.writeable
        a[...] = a.reshape(-1)[:1]  # writable
    before = path.read_bytes()
    out["big"][:] = 0
    assert path.read_bytes() == before
    check_same(value, mle.load(path))


def test_mmap_r_gives_read_only_maps(array_file):
    path, value = array_file
    before = path.read_bytes()
    out = mle.load(path, mmap_mode="r")
    check_same(value, out, array_type=np.memmap)
    for k in ("small", "big", "F", "s"):
        a = out[k]
        assert isinstance(a, np.memmap) and a.mode == "r" and not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[...] = a.reshape(-1)[:1]
        with pytest.raises(ValueError):
            a.setflags(write=True)
    # the maps outlive the loaded value's other parts
    big = out["big"]
    del out
    gc.collect()
    check_same(value["big"], big, array_type=np.memmap)
    assert path.read_bytes() == before


def test_mmap_c_is_copy_on_write(array_file):
    path, value = array_file
    before = path.read_bytes()
    out = mle.load(path, mmap_mode="c")
    check_same(value, out, array_type=np.memmap)
    for k in ("small", "big", "F"):
        a = out[k]
        assert isinstance(a, np.memmap) and a.mode == "c" and a.flags.writeable
        a[...] = -7
        assert (a == -7).all()
    out["s"][0] = "zz"
    del out
    gc.collect()
    assert path.read_bytes() == before
    check_same(value, mle.load(path))
    check_same(value, mle.load(path, mmap_mode="c"), array_type=np.memmap)


@pytest.mark.parametrize("mmap_mode", ["r+", "w+"])
def test_mmap_writing_modes_refused_for_arrays(array_file, mmap_mode):
    path, _ = array_file
    before = path.read_bytes()
    with pytest.raises(ValueError, match="checksums"):
        mle.load(path, mmap_mode=mmap_mode)
    # mmap_mode applies to paths: file objects are read into memory, as joblib does
    value = mle.load(io.BytesIO(before), mmap_mode=mmap_mode)
    arrays = [v for v in value.values() if isinstance(v, np.ndarray)]
    assert arrays and all(type(a) is np.ndarray and a.flags.writeable for a in arrays)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mmap_mode", ["r+", "w+", "r", "c"])
def test_mmap_modes_accepted_without_arrays(mmap_mode, tmp_path):
    value = {"a": [1, 2.5, "x"], "b": None}
    check_same(value, roundtrip(value, tmp_path, mmap_mode=mmap_mode))


def test_bad_mmap_mode(array_file):
    with pytest.raises(ValueError, match="mmap_mode"):
        mle.load(array_file[0], mmap_mode="rw")


# ------------------------------------------------------------------------------ identity

def test_shared_objects_load_as_one_object(tmp_path):
    lst, d, st, ba = [1, 2], {"k": 1}, {1, 2}, bytearray(b"ab")
    arr = np.arange(5.0)
    od = collections.OrderedDict([(1, "a")])
    ods = collections.OrderedDict([("s", 1)])
    dk = {1: "x"}
    obj = np.array([1, "a"], dtype=object)
    value = {"a": [lst, d, st, ba, arr, od, ods, dk, obj],
             "b": (lst, d, st, ba, arr, od, ods, dk, obj),
             "c": {"deep": [[lst]]}}
    for mode in (None, "r", "c"):
        out = roundtrip(value, tmp_path, f"shared{mode}.mle", mmap_mode=mode)
        for x, y in zip(out["a"], out["b"]):
            assert x is y, type(x)
        assert out["c"]["deep"][0][0] is out["a"][0]
        out["a"][0].append(3)
        assert out["b"][0] == [1, 2, 3]
    # the stored file holds the array once
    assert file_meta(tmp_path / "sharedNone.mle")["contents"]["arrays"] == 1


def test_equal_but_distinct_objects_stay_distinct(tmp_path):
    value = [[1, 2], [1, 2], np.zeros(3), np.zeros(3)]
    out = roundtrip(value, tmp_path)
    assert out[0] is not out[1] and out[2] is not out[3]
    out[0].append(5)
    assert out[1] == [1, 2]


def test_views_of_one_base_are_stored_as_separate_arrays(tmp_path):
    base = np.arange(10.0)
    out = roundtrip([base, base[2:5]], tmp_path)
    check_same([base, base[2:5]], out)
    out[0][3] = 99  # not sharing memory: each is its own array
    assert out[1][1] == 3


def _cycle_cases():
    a = []
    a.append(a)
    d = {}
    d["self"] = [d]
    t_list = []
    t = (t_list,)
    t_list.append(t)
    od = collections.OrderedDict()
    od[1] = [od]
    s = {"x": {"y": [1, 2]}}
    s["x"]["y"].append(s)
    obj = np.empty(1, dtype=object)
    obj[0] = [obj]
    return {"list in itself": a, "dict in itself": d, "through a tuple": t,
            "ordered dict": od, "deep": s, "object array": obj}


@pytest.mark.parametrize("name", sorted(_cycle_cases()))
def test_cycles_raise_at_dump(name, tmp_path):
    value = _cycle_cases()[name]
    path = tmp_path / "cycle.mle"
    with pytest.raises(ValueError, match="cycle"):
        mle.dump(value, path)
    with pytest.raises(ValueError, match="cycle"):
        mle.dump(value, path, allow_pickle=True)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def _nested(depth, kind):
    v = 0
    for i in range(depth):
        if kind == "list":
            v = [v]
        elif kind == "dict":
            v = {"k": v}
        elif kind == "tuple":
            v = (v, i)
        elif kind == "mixed":  # one level each: list, dict, tuple, dict with non-str keys
            v = [[v], {"a": v}, (v,), {(i,): v}][i % 4]
    return v


@pytest.mark.parametrize("kind", ["list", "dict", "tuple", "mixed"])
def test_nesting_limit(kind, tmp_path):
    """A value nested MAX_DEPTH levels deep round-trips; one more level is refused at dump
    with a clear ValueError (not a RecursionError, whatever the depth)."""
    deepest = _nested(values.MAX_DEPTH, kind)
    check_same(deepest, roundtrip(deepest, tmp_path))
    for depth in (values.MAX_DEPTH + 1, 5000):
        path = tmp_path / "deep.mle"
        path.unlink(missing_ok=True)
        with pytest.raises(ValueError, match=f"nests more than {values.MAX_DEPTH} levels"):
            mle.dump(_nested(depth, kind), path)
        assert not path.exists()


def _nested_keys(depth):
    k = 0
    for _ in range(depth):
        k = (k,)
    return {k: "value"}


def _nested_object_arrays(depth):
    a = 0
    for _ in range(depth):
        o = np.empty(1, dtype=object)
        o[0] = a
        a = o
    return a


def test_nesting_limit_counts_dict_keys_and_object_arrays(tmp_path):
    for make in (_nested_keys, _nested_object_arrays):
        ok = make(values.MAX_DEPTH - 1 if make is _nested_keys else values.MAX_DEPTH)
        check_same(ok, roundtrip(ok, tmp_path))
        with pytest.raises(ValueError, match="nests more than"):
            mle.dump(make(values.MAX_DEPTH + 1), tmp_path / "deep.mle")


# ------------------------------------------------------------------------------ everything nested

def _everything():
    rng = np.random.default_rng(RNG_SEED + 4)
    return {
        "config": {"name": "run-7", "lr": 1e-3, "layers": [64, 32], "seed": 7, "ok": True,
                   "none": None, "tags": {"a", "b"}, "frozen": frozenset({(1, 2)}),
                   "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
                   "window": datetime.timedelta(days=3), "d": decimal.Decimal("0.1")},
        "data": [(rng.normal(size=(20, 3)), rng.integers(0, 3, 20)),
                 (np.asfortranarray(rng.normal(size=(5, 2))), np.array(["x", "y"])),
                 {"nested": [[{"deeper": ({"deepest": (np.float32(2.5), 2 ** 90, 1 - 2j)},)}]]}],
        "od": collections.OrderedDict([("b", np.arange(3)), ("a", [b"1", bytearray(b"2")])]),
        "scalars": [np.int8(-1), np.uint64(2 ** 64 - 1), np.float16(0.1), np.datetime64("NaT"),
                    np.str_("é"), np.longdouble("0.1")],
        "keys": {(1, "a"): [1], 2.5: {None: frozenset()}, b"k": range(3)},
        "strings": ["", "é", "\ud800", "x" * 1000],
    }


@pytest.mark.parametrize("mmap_mode", [None, "r", "c"])
def test_everything_nested(mmap_mode, tmp_path):
    value = _everything()
    out = roundtrip(value, tmp_path, mmap_mode=mmap_mode)
    check_same(value, out, array_type=np.ndarray if mmap_mode is None else np.memmap)


def test_dump_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a, b = tmp_path / "a.mle", tmp_path / "b.mle"
    mle.dump(_everything(), a)
    mle.dump(_everything(), b)
    assert a.read_bytes() == b.read_bytes()


def test_value_file_metadata(tmp_path):
    path = tmp_path / "v.mle"
    mle.dump(_everything(), path, metadata={"owner": "me"}, model_version="1.2.3")
    info = mle.inspect_model(path)
    assert info["format_version"] == "1.2"
    meta = info["metadata"]
    assert meta["kind"] == "value" and meta["contents"]["type"] == "dict"
    assert meta["contents"]["arrays"] == 5 and meta["contents"]["models"] == []
    assert meta["contents"]["pickled"] == []
    assert meta["user"] == {"owner": "me"} and meta["model_version"] == "1.2.3"
    assert info["summary"] == "dict holding 5 array(s)"
    assert meta["content_hash"].startswith("sha256:")
    kinds = [s["kind"] for s in info["sections"]]
    assert kinds == ["metadata", "value", "tensor data"]


# ------------------------------------------------------------------------------ models inside

@pytest.fixture(scope="module")
def fitted():
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Xi, yi = load_iris(return_X_y=True)
    Xc, yc = load_breast_cancer(return_X_y=True)
    Xc = Xc.copy()
    Xc[np.random.default_rng(RNG_SEED).random(Xc.shape) < 0.05] = np.nan  # missing values
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xi, yi)
    rf_X = np.nan_to_num(Xc)
    rf = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0).fit(rf_X, yc)
    xgbm = xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0).fit(Xc, yc)
    lgbm = lgb.LGBMClassifier(n_estimators=30, num_leaves=12, verbose=-1).fit(Xc, yc)
    return {"pipe": (pipe, Xi), "rf": (rf, rf_X), "xgb": (xgbm, Xc), "lgbm": (lgbm, Xc)}


METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def _model_value(fitted):
    from sklearn.datasets import load_iris

    return {
        "iris": {"pipeline": fitted["pipe"][0], "classes": list(load_iris().target_names),
                 "threshold": 0.5},
        "cancer": [fitted["rf"][0], (fitted["xgb"][0], {"booster": fitted["lgbm"][0]})],
        "reference rows": fitted["xgb"][1][:10],
        "trained": datetime.datetime(2024, 1, 2, 3, 4, 5),
    }


def _loaded_models(out):
    return {"pipe": out["iris"]["pipeline"], "rf": out["cancer"][0],
            "xgb": out["cancer"][1][0], "lgbm": out["cancer"][1][1]["booster"]}


def _same_predictions(a, b, X, what):
    """Bit-exact equality of every method both have, on X, float32 X and single rows."""
    checked = 0
    for name in METHODS:
        if not hasattr(b, name):
            continue
        for Z in (X, X.astype(np.float32), X[:1], X[-1:]):
            ea, eb = getattr(a, name)(Z), getattr(b, name)(Z)
            assert type(eb) is np.ndarray and ea.dtype == eb.dtype and ea.shape == eb.shape, what
            np.testing.assert_array_equal(ea, eb, err_msg=f"{what}: {name}")
        checked += 1
    assert checked >= 2, what


@pytest.mark.parametrize("mmap_mode", [None, "r", "c"])
def test_models_inside_values_predict_like_the_originals(fitted, mmap_mode, tmp_path,
                                                        assert_parity):
    value = _model_value(fitted)
    out = roundtrip(value, tmp_path, mmap_mode=mmap_mode)
    models = _loaded_models(out)
    for k, m in models.items():
        assert type(m) is MLEModel, k
    assert out["iris"]["classes"] == ["setosa", "versicolor", "virginica"]
    check_same(value["reference rows"], out["reference rows"],
               array_type=np.ndarray if mmap_mode is None else np.memmap)
    check_same(value["trained"], out["trained"])
    # against each model dumped alone: bit for bit
    for k, (est, X) in fitted.items():
        alone = roundtrip(est, tmp_path, f"{k}.mle")
        assert models[k].metadata["content_hash"] == alone.metadata["content_hash"], k
        _same_predictions(alone, models[k], X, k)
    # against the originals: the parity the exporter tests require (bit-exact for the trees
    # and boosters, 1e-9 for the logistic pipeline)
    assert_parity(fitted["pipe"][0], models["pipe"], fitted["pipe"][1])
    for k in ("rf", "xgb", "lgbm"):
        est, X = fitted[k]
        for name in ("predict", "predict_proba"):
            np.testing.assert_array_equal(getattr(models[k], name)(X), getattr(est, name)(X),
                                          err_msg=f"{k}.{name}")
    meta = file_meta(tmp_path / "value.mle")
    assert [m["path"] for m in meta["contents"]["models"]] == [
        "value['iris']['pipeline']", "value['cancer'][0]", "value['cancer'][1][0]",
        "value['cancer'][1][1]['booster']"]
    assert [m["model_class"] for m in meta["contents"]["models"]] == [
        "sklearn.Pipeline", "sklearn.RandomForestClassifier", "xgboost.XGBClassifier",
        "lightgbm.LGBMClassifier"]
    assert meta["summary"] == "dict holding 4 model(s), 1 array(s)"


def test_models_outlive_the_loaded_value(fitted, tmp_path):
    path = tmp_path / "m.mle"
    mle.dump({"rf": fitted["rf"][0], "pad": np.zeros(20000)}, path)
    for mode in (None, "r", "c"):
        m = mle.load(path, mmap_mode=mode)["rf"]
        gc.collect()
        est, X = fitted["rf"]
        np.testing.assert_array_equal(m.predict_proba(X), est.predict_proba(X))
    # a read-only map of a file over 64 KiB: the model borrows the file's pages
    assert mle.load(path, mmap_mode="r")["rf"]._native.borrowed


def test_loaded_models_redumped_inside_a_value(fitted, tmp_path):
    first = roundtrip(_model_value(fitted), tmp_path, "first.mle")
    models = _loaded_models(first)
    second_value = {"again": models, "same rf": models["rf"], "list": [models["xgb"]]}
    second = roundtrip(second_value, tmp_path, "second.mle")
    assert second["same rf"] is second["again"]["rf"]
    assert second["list"][0] is second["again"]["xgb"]
    for k, (est, X) in fitted.items():
        got = second["again"][k]
        assert type(got) is MLEModel
        assert got._native.file_bytes() == models[k]._native.file_bytes()
        _same_predictions(models[k], got, X, k)
    assert len(file_meta(tmp_path / "second.mle")["contents"]["models"]) == 4
    # the same estimator twice is one model section and one loaded model
    rf = fitted["rf"][0]
    out = roundtrip({"a": rf, "b": [rf]}, tmp_path, "twice.mle")
    assert out["a"] is out["b"][0]
    assert len(file_meta(tmp_path / "twice.mle")["contents"]["models"]) == 1


def test_a_bare_model_keeps_the_plain_format(fitted, tmp_path):
    path = tmp_path / "bare.mle"
    mle.dump(fitted["rf"][0], path)
    assert mle.inspect_model(path)["format_version"] == "1.5"  # a model file with its record
    assert type(mle.load(path)) is MLEModel


LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import mle_runtime as mle
value = mle.load(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
out = {k: np.asarray(m.predict(X)).tolist() for k, m in value["models"].items()}
out["imported"] = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[3])))
print(json.dumps(out))
"""


def test_loading_a_value_file_imports_no_framework(fitted, tmp_path):
    forbidden = ["sklearn", "scipy", "xgboost", "lightgbm", "catboost", "pandas", "joblib",
                 "torch"]
    path = tmp_path / "v.mle"
    mle.dump({"models": {k: fitted[k][0] for k in ("rf", "xgb", "lgbm")},
              "when": datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
              "a": np.arange(3), "d": decimal.Decimal("1")}, path)
    X = fitted["rf"][1][:3]
    proc = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(path), json.dumps(X.tolist()),
                           json.dumps(forbidden)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("imported") == []
    for k in ("rf", "xgb", "lgbm"):
        assert out[k] == fitted[k][0].predict(X).tolist()


# ------------------------------------------------------------------------------ envelopes

@pytest.mark.parametrize("compress", [3, "zlib", ("zlib", 9), True, ("lzma", 1), "bz2"])
def test_compressed_value_files(compress, fitted, tmp_path):
    value = {"x": _everything(), "rf": fitted["rf"][0]}
    path = tmp_path / "c.mle"
    assert mle.dump(value, path, compress=compress) == [str(path)]
    info = mle.inspect_model(path)
    assert info["compression"] is not None
    for mode in (None, "r", "c"):
        out = mle.load(path, mmap_mode=mode)
        # restored into memory: ordinary writable arrays whatever mmap_mode says
        check_same(value["x"], out["x"])
        assert out["x"]["data"][0][0].flags.writeable
        est, X = fitted["rf"]
        np.testing.assert_array_equal(out["rf"].predict_proba(X), est.predict_proba(X))
    out = mle.load(io.BytesIO(path.read_bytes()))
    check_same(value["x"], out["x"])


@pytest.mark.parametrize("key", [bytes(range(32)), "a passphrase ✓"])
def test_encrypted_value_files(key, fitted, tmp_path):
    value = {"x": _everything(), "xgb": fitted["xgb"][0]}
    path = tmp_path / "e.mle"
    mle.dump(value, path, encryption_key=key, compress=3)
    assert b"run-7" not in path.read_bytes()
    out = mle.load(path, encryption_key=key)
    check_same(value["x"], out["x"])
    est, X = fitted["xgb"]
    np.testing.assert_array_equal(out["xgb"].predict_proba(X), est.predict_proba(X))
    with pytest.raises(DecryptionError):
        mle.load(path)
    with pytest.raises(DecryptionError):
        mle.load(path, encryption_key=bytes(32))
    # a key for a file that is not encrypted is refused too
    plain = tmp_path / "p.mle"
    mle.dump(value, plain)
    with pytest.raises(DecryptionError, match="not encrypted"):
        mle.load(plain, encryption_key=key)


def test_signed_value_files(fitted, tmp_path):
    private, public = mle.generate_keys()
    other_private, other_public = mle.generate_keys()
    value = {"x": _everything(), "lgbm": fitted["lgbm"][0]}
    path = tmp_path / "s.mle"
    mle.dump(value, path, sign_with=private)
    out = mle.load(path, public_key=public)
    check_same(value["x"], out["x"])
    est, X = fitted["lgbm"]
    np.testing.assert_array_equal(out["lgbm"].predict_proba(X), est.predict_proba(X))
    check_same(value["x"], mle.load(path)["x"])  # a signature is optional when no key is given
    with pytest.raises(SignatureError):
        mle.load(path, public_key=other_public)
    # signed + compressed + encrypted
    mle.dump(value, path, sign_with=private, compress="zlib", encryption_key=bytes(32))
    out = mle.load(path, public_key=public, encryption_key=bytes(32))
    check_same(value["x"], out["x"])
    # one changed byte in a signed value file: refused
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    with pytest.raises((SignatureError, FormatError)):
        mle.load(io.BytesIO(bytes(data)), public_key=public, encryption_key=bytes(32))
    unsigned = tmp_path / "u.mle"
    mle.dump(value, unsigned)
    with pytest.raises(SignatureError):
        mle.load(unsigned, public_key=public)


# ------------------------------------------------------------------------------ files

def test_file_objects_and_paths(tmp_path):
    value = _everything()
    buf = io.BytesIO()
    assert mle.dump(value, buf) is None
    data = buf.getvalue()
    check_same(value, mle.load(io.BytesIO(data)))
    with open(tmp_path / "f.mle", "wb") as f:
        assert mle.dump(value, f) is None
    with open(tmp_path / "f.mle", "rb") as f:
        check_same(value, mle.load(f))
    p = tmp_path / "pathlib.mle"
    assert mle.dump(value, p) == [str(p)]
    check_same(value, mle.load(p))
    s = str(tmp_path / "str.mle")
    assert mle.dump(value, s) == [s]
    check_same(value, mle.load(s))


def test_dump_to_a_file_object_writes_exactly_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    value = _everything()
    buf = io.BytesIO()
    mle.dump(value, buf)
    mle.dump(value, tmp_path / "p.mle")
    assert buf.getvalue() == (tmp_path / "p.mle").read_bytes()
    # appended after other bytes, at the file object's position
    buf2 = io.BytesIO()
    buf2.write(b"prefix")
    mle.dump(value, buf2)
    assert buf2.getvalue() == b"prefix" + buf.getvalue()


def test_text_mode_file_objects_refused(tmp_path):
    with open(tmp_path / "t.mle", "w") as f:
        with pytest.raises(TypeError, match="text mode"):
            mle.dump({"a": 1}, f)
    with pytest.raises(TypeError, match="text mode"):
        mle.dump([1, 2], io.StringIO())
    mle.dump({"a": 1}, tmp_path / "b.mle")
    with open(tmp_path / "b.mle", "r") as f:
        with pytest.raises(TypeError, match="text mode"):
            mle.load(f)


def test_overwriting_an_existing_file(tmp_path):
    path = tmp_path / "o.mle"
    mle.dump({"first": np.arange(100000)}, path)
    first = mle.load(path, mmap_mode="r")["first"]  # a live map of the old file
    mle.dump(["second", np.ones(3)], path)
    check_same(["second", np.ones(3)], mle.load(path))
    np.testing.assert_array_equal(first, np.arange(100000))  # the old map is intact
    assert sorted(os.listdir(tmp_path)) == ["o.mle"]


class _NotStorable:
    def __init__(self, x=1):
        self.x = x

    def __eq__(self, other):
        return type(other) is type(self) and other.x == self.x

    __hash__ = None


def test_a_failed_dump_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "keep.mle"
    mle.dump({"good": np.arange(10)}, path)
    before = path.read_bytes()
    mode = os.stat(path).st_mode
    for bad in ({"good": np.arange(10), "bad": _NotStorable()}, [lambda: 0],
                {"deep": _nested(values.MAX_DEPTH + 5, "list")}, _cycle_cases()["deep"]):
        with pytest.raises((UnsupportedModelError, ValueError)):
            mle.dump(bad, path)
        assert path.read_bytes() == before
        assert os.stat(path).st_mode == mode
        assert sorted(os.listdir(tmp_path)) == ["keep.mle"]
    check_same({"good": np.arange(10)}, mle.load(path))
    buf = io.BytesIO()
    with pytest.raises(UnsupportedModelError):
        mle.dump([_NotStorable()], buf)
    assert buf.getvalue() == b""


def test_bare_and_value_loads_through_every_entry_point(tmp_path):
    value = {"a": np.arange(4), "b": "x"}
    path = tmp_path / "v.mle"
    mle.dump(value, path)
    data = path.read_bytes()
    check_same(value, mle.load(io.BytesIO(data)))
    check_same(value, mle.load(path, cache=False))
    check_same(value, mle.load(path, require_signature=False))
    # a value file is never cached: each load is a new value
    a, b = mle.load(path), mle.load(path)
    assert a is not b and a["a"] is not b["a"]


# ------------------------------------------------------------------------------ unsupported

class Config:
    """A custom class: not storable natively."""

    def __init__(self, alpha):
        self.alpha = alpha

    def __eq__(self, other):
        return type(other).__name__ == "Config" and other.alpha == self.alpha


def _pipeline_with_function_step():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), FunctionTransformer(np.rint),
                         LogisticRegression(max_iter=1000)).fit(X, y), X


def test_unsupported_objects_are_named_by_path(tmp_path):
    pipe, _ = _pipeline_with_function_step()
    value = {"model": pipe, "cfg": [1, 2, Config(0.5), lambda x: x + 1]}
    path = tmp_path / "u.mle"
    with pytest.raises(UnsupportedModelError) as info:
        mle.dump(value, path)
    msg = str(info.value)
    first = msg.splitlines()[0]
    assert first.startswith("value['model'].steps[1][1] (a sklearn.preprocessing."), first
    assert "FunctionTransformer" in first and "not supported" in first
    assert "Also not storable natively: value['cfg'][2] (" in msg and ".Config)" in msg
    assert "value['cfg'][3] (function)" in msg
    assert "allow_pickle=True" in msg
    assert not path.exists()
    with pytest.raises(UnsupportedModelError, match=r"^value\['cfg'\]\[2\] \(a .*Config\) "
                                                    r"cannot be stored natively"):
        mle.dump({"cfg": [1, 2, Config(1)]}, path)
    with pytest.raises(UnsupportedModelError, match=r"^value \(a function\)"):
        mle.dump(lambda: 0, path)
    with pytest.raises(UnsupportedModelError, match=r"^value\{element 0\}"):
        mle.dump({Config.__init__}, path)
    with pytest.raises(UnsupportedModelError, match=r"^value\[Config2\(\)\] \(key\) \(a .*Config2"):
        mle.dump({1: 1, Config2(): 2}, path)
    # more than six: the first in full, five more by name, then a count
    with pytest.raises(UnsupportedModelError, match=r"and 3 more\."):
        mle.dump([Config(i) for i in range(9)], path)
    assert not path.exists()
    hooks = value_hooks()
    assert values.describe_problems(value, hooks=hooks)[0][0] == "value['model'].steps[1][1]"
    assert [p[0] for p in values.describe_problems(value, hooks=hooks)] == [
        "value['model'].steps[1][1]", "value['cfg'][2]", "value['cfg'][3]"]
    assert values.describe_problems(_everything(), hooks=hooks) == []


class Config2:
    def __repr__(self):
        return "Config2()"

    def __hash__(self):
        return 7

    def __eq__(self, other):
        return type(other).__name__ == "Config2"


def test_unfitted_estimator_inside_a_value(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(UnsupportedModelError, match=r"^value\['m'\] \(a .*LogisticRegression"):
        mle.dump({"m": LogisticRegression()}, tmp_path / "x.mle")


def test_allow_pickle_stores_what_is_not_native(tmp_path, fitted):
    pipe, X = _pipeline_with_function_step()
    value = {"model": pipe, "cfg": [1, 2, Config(0.5), lambda x: x + 1],
             "rf": fitted["rf"][0], "arr": np.arange(5), "shared": None}
    value["shared"] = value["cfg"]
    path = tmp_path / "p.mle"
    assert mle.dump(value, path, allow_pickle=True) == [str(path)]
    meta = file_meta(path)
    # only the Pipeline's step that cannot be stored natively is pickled (17.6)
    assert meta["contents"]["pickled"] == [
        {"path": "value['model'].steps[1][1]",
         "type": "sklearn.preprocessing._function_transformer.FunctionTransformer"},
        {"path": "value['cfg'][2]", "type": f"{Config.__module__}.Config"},
        {"path": "value['cfg'][3]", "type": "function"}]
    assert [m["path"] for m in meta["contents"]["models"]] == [
        "value['model'][0:1]", "value['model'][2:3]", "value['rf']"]
    assert "pickle" in [s["kind"] for s in mle.inspect_model(path)["sections"]]
    with pytest.raises(PickleNotAllowedError,
                       match=r"value\['model'\].steps\[1\]\[1\] \(sklearn.preprocessing") as e:
        mle.load(path)
    assert "allow_pickle=True" in str(e.value)
    assert isinstance(e.value, mle.MLEError)
    for mode in (None, "r", "c"):
        with pytest.raises(PickleNotAllowedError):
            mle.load(path, mmap_mode=mode)
        out = mle.load(path, mmap_mode=mode, allow_pickle=True)
        assert type(out["model"]).__name__ == "PipelineChain"
        assert type(out["model"].steps[1][1]).__name__ == "FunctionTransformer"
        np.testing.assert_allclose(out["model"].predict_proba(X), pipe.predict_proba(X),
                                   rtol=1e-12, atol=1e-15)
        assert out["cfg"][2] == Config(0.5) and out["cfg"][3](41) == 42
        assert type(out["rf"]) is MLEModel  # the native parts stay native
        assert out["shared"] is out["cfg"]
        check_same(np.arange(5), out["arr"],
                   array_type=np.ndarray if mode is None else np.memmap)
    with pytest.raises(PickleNotAllowedError):
        mle.load(io.BytesIO(path.read_bytes()))
    # protocol= is the pickle section's protocol
    mle.dump({"c": Config(3)}, path, allow_pickle=True, protocol=2)
    assert mle.load(path, allow_pickle=True)["c"] == Config(3)


def test_allow_pickle_without_anything_to_pickle_writes_no_pickle_section(tmp_path):
    path = tmp_path / "n.mle"
    mle.dump(_everything(), path, allow_pickle=True)
    assert "pickle" not in [s["kind"] for s in mle.inspect_model(path)["sections"]]
    check_same(_everything(), mle.load(path))


def test_what_pickle_cannot_store_either(tmp_path):
    import threading

    with pytest.raises(TypeError, match="pickle cannot store the object either"):
        mle.dump({"lock": threading.Lock()}, tmp_path / "x.mle", allow_pickle=True)
    assert not (tmp_path / "x.mle").exists()


# ------------------------------------------------------------------------------ the pickle gate

class WritesMarker:
    """Unpickling this creates the file ``path`` (``open(path, "w")``): the stand-in for
    arbitrary code in a hostile pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pack_value_file(tree, extra=(), meta=None, blob=None):
    meta = meta if meta is not None else {
        "kind": "value", "contents": {"type": "dict", "arrays": 0, "models": [],
                                      "pickled": []}}
    parts = [(L.SECTION_META, writer.encode_json(meta)),
             (L.SECTION_VALUE, writer.encode_json(tree))]
    if blob is not None:
        parts.append((L.SECTION_DATA, blob, L.DATA_ALIGN))
    return writer.pack_sections(parts + list(extra), minor=L.MINOR_VALUES)


def test_pickle_payload_never_runs_without_allow_pickle(tmp_path, fitted):
    """THE acceptance test of the pickle gate: a file whose pickle section writes a file when
    unpickled. No load without allow_pickle=True creates it, whatever the route (path, map,
    file object, compressed, encrypted, signed, inspect); a load with it does, which shows the
    payload is live and the test could fail."""
    marker = tmp_path / "marker.txt"
    value = {"rf": fitted["rf"][0], "evil": WritesMarker(marker), "a": np.arange(100000)}
    private, public = mle.generate_keys()
    files = {}
    files["plain"] = tmp_path / "plain.mle"
    mle.dump(value, files["plain"], allow_pickle=True)
    files["compressed"] = tmp_path / "compressed.mle"
    mle.dump(value, files["compressed"], allow_pickle=True, compress=3)
    files["encrypted"] = tmp_path / "encrypted.mle"
    mle.dump(value, files["encrypted"], allow_pickle=True, encryption_key=bytes(32))
    files["signed"] = tmp_path / "signed.mle"
    mle.dump(value, files["signed"], allow_pickle=True, sign_with=private)
    assert not marker.exists()  # dumping ran nothing
    for name, path in files.items():
        kw = {"encryption_key": bytes(32)} if name == "encrypted" else {}
        if name == "signed":
            kw["public_key"] = public
        for mode in (None, "r", "c"):
            with pytest.raises(PickleNotAllowedError):
                mle.load(path, mmap_mode=mode, **kw)
        with pytest.raises(PickleNotAllowedError):
            mle.load(io.BytesIO(path.read_bytes()), **kw)
        with open(path, "rb") as f:
            with pytest.raises(PickleNotAllowedError):
                mle.load(f, **kw)
        mle.inspect_model(path, **({"encryption_key": bytes(32)} if name == "encrypted"
                                   else {}))
        assert not marker.exists(), name
    out = mle.load(files["plain"], allow_pickle=True)
    assert marker.exists()  # the payload is live: the gate above is what kept it from running
    out["evil"].close()
    assert type(out["rf"]) is MLEModel
    for name, path in files.items():
        marker.unlink()
        kw = {"encryption_key": bytes(32)} if name == "encrypted" else {}
        if name == "signed":
            kw["public_key"] = public
        mle.load(path, allow_pickle=True, **kw)["evil"].close()
        assert marker.exists(), name


def test_hand_made_file_pointing_at_a_pickle_section(tmp_path):
    """A file written by hand, not by dump: its metadata says nothing is pickled, its value
    tree refers to the pickle section. Refused all the same; the section flags do not matter."""
    marker = tmp_path / "marker.txt"
    payload = pickle.dumps([WritesMarker(marker)])
    tree = {"root": ["dict", {"x": ["pickle", 0], "y": ["list", 1, 2]}], "memo": 3}
    for flags in (0, L.SECTION_OPTIONAL):
        data = _pack_value_file(tree, [(L.SECTION_PICKLE, payload, 8, flags)])
        path = tmp_path / f"hand{flags}.mle"
        path.write_bytes(data)
        for load in (lambda: mle.load(path), lambda: mle.load(path, mmap_mode="r"),
                     lambda: mle.load(io.BytesIO(data))):
            with pytest.raises(PickleNotAllowedError):
                load()
        assert not marker.exists()
    # a pickle section that nothing refers to is refused too
    data = _pack_value_file({"root": 1, "memo": 0}, [(L.SECTION_PICKLE, payload)])
    with pytest.raises(PickleNotAllowedError):
        mle.load(io.BytesIO(data))
    assert not marker.exists()
    # proof that the hand-made file is live
    out = mle.load(path, allow_pickle=True)
    assert marker.exists()
    out["x"].close()


def test_pickle_bytes_elsewhere_are_never_unpickled(tmp_path):
    """Pickle bytes anywhere but a pickle section are data: in a section of an unknown
    optional kind, in the tensor data, inside a model section; the tree's reference to them
    is refused as malformed, even with allow_pickle=True."""
    marker = tmp_path / "marker.txt"
    payload = pickle.dumps([WritesMarker(marker)])
    tree = {"root": ["dict", {"x": ["pickle", 0]}], "memo": 1}
    cases = {
        "unknown optional section": _pack_value_file(tree, [(1000, payload, 8,
                                                              L.SECTION_OPTIONAL)]),
        "tensor data": _pack_value_file(tree, blob=payload),
        "bytes node": _pack_value_file({"root": ["bytes", 0, len(payload)], "memo": 1},
                                       blob=payload),
    }
    for name, data in cases.items():
        for allow in (False, True):
            try:
                out = mle.load(io.BytesIO(data), allow_pickle=allow)
            except FormatError as e:
                assert "pickle" in str(e), name
            else:
                assert name == "bytes node" and out == payload
            assert not marker.exists(), name
    # a value file with a pickle section, inside a model section of another value file
    inner = _pack_value_file({"root": ["pickle", 0], "memo": 1}, [(L.SECTION_PICKLE, payload)])
    outer = _pack_value_file({"root": ["model", 0], "memo": 1},
                             [(L.SECTION_MODEL, inner, L.DATA_ALIGN)])
    for allow in (False, True):
        with pytest.raises(FormatError, match="model section 0 is invalid"):
            mle.load(io.BytesIO(outer), allow_pickle=allow)
    assert not marker.exists()


def test_signed_value_files_keep_models_aligned_and_borrowed(tmp_path):
    """Signing re-packs the file: model sections stay at multiples of 64, so the models
    are still built from the file's mapping without a copy."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from mle_runtime.format import container

    X, y = load_breast_cancer(return_X_y=True)
    est = RandomForestClassifier(30, random_state=0).fit(X, y)
    private, public = mle.generate_keys()
    path = tmp_path / "signed.mle"
    mle.dump({"m": est, "pad": b"x" * 13}, path, sign_with=private)
    c = container.parse(path.read_bytes())
    models = [s for s in c.sections if s.kind == L.SECTION_MODEL]
    assert models and all(s.offset % 64 == 0 for s in models)
    value = mle.load(path, mmap_mode="r")  # mapped whatever its size (small files are read)
    assert value["m"]._native.borrowed
    assert (value["m"].predict(X) == est.predict(X)).all()
    assert (mle.load(path, public_key=public)["m"].predict(X) == est.predict(X)).all()
