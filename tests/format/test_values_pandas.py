"""pandas objects inside value files (mle_runtime/format/values_pandas.py): exact round trips
through ``mle.dump``/``mle.load`` with every ``mmap_mode``, object identity, memory maps,
models predicting from loaded frames, refusals, no pandas import for files without pandas
objects, and hostile value sections (every malformation raises FormatError)."""

import copy
import datetime
import json
import mmap
import subprocess
import sys
import zoneinfo

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.linear_model import LogisticRegression

import mle_runtime as mle
from mle_runtime.api import value_hooks
from mle_runtime.errors import FormatError, UnsupportedModelError
from mle_runtime.format import container, layout as L, values, writer

MODES = (None, "r", "c")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UNITS = ("s", "ms", "us", "ns")


# --------------------------------------------------------------------------- data ------------

def _rng(seed=0):
    return np.random.default_rng(seed)


def iris_frame():
    b = load_iris(as_frame=True)
    df = b.frame.copy()
    df["species"] = pd.Categorical.from_codes(b.target.to_numpy(), list(b.target_names))
    return df


def mixed_frame(n=37, seed=0):
    """One column of every supported dtype (seeded), with missing values."""
    rng = _rng(seed)
    miss = rng.random(n) < 0.2
    words = np.array(["alpha", "beta", "gamma", "δέλτα", "", "e\u0301"], dtype=object)
    strs = words[rng.integers(0, len(words), n)].copy()
    strs[miss] = None
    cols = {
        "f64": rng.normal(size=n),
        "f64_nan": np.where(miss, np.nan, rng.normal(size=n)),
        "f32": rng.normal(size=n).astype(np.float32),
        "i8": rng.integers(-128, 128, n).astype(np.int8),
        "i64": rng.integers(-2**62, 2**62, n),
        "u16": rng.integers(0, 2**16, n).astype(np.uint16),
        "u64": rng.integers(0, 2**63, n).astype(np.uint64) * np.uint64(2),
        "bool": rng.random(n) < 0.5,
        "c128": rng.normal(size=n) + 1j * rng.normal(size=n),
        "obj": pd.Series([[None, 1, "x", 2.5, b"by", datetime.date(2020, 1, 2), True][i % 7]
                          for i in range(n)], dtype=object),
        "str": pd.array(strs, dtype="str"),
        "string": pd.array(strs, dtype="string"),
        "cat": pd.Categorical(strs,
                              categories=["gamma", "alpha", "beta", "δέλτα", "", "e\u0301"]),
        "cat_int_ordered": pd.Categorical(rng.integers(0, 5, n), categories=[4, 3, 2, 1, 0],
                                          ordered=True),
        "Int8": pd.array(np.where(miss, None, rng.integers(-100, 100, n)), dtype="Int8"),
        "UInt64": pd.array(np.where(miss, None, rng.integers(0, 2**62, n)), dtype="UInt64"),
        "Float32": pd.array(np.where(miss, None, rng.normal(size=n)), dtype="Float32"),
        "boolean": pd.array(np.where(miss, None, rng.random(n) < 0.5), dtype="boolean"),
        "period": pd.period_range("2001-03", periods=n, freq="M"),
        "interval": pd.arrays.IntervalArray.from_breaks(np.cumsum(rng.random(n + 1)),
                                                        closed="left"),
    }
    base = np.datetime64("2020-03-29T00:30:00.123456789", "ns")
    for u in UNITS:
        t = (base + rng.integers(0, 10**15, n).astype("m8[ns]")).astype(f"M8[{u}]")
        t[miss] = np.datetime64("NaT")
        cols[f"dt_{u}"] = t
        cols[f"td_{u}"] = (rng.integers(-10**12, 10**12, n)).astype(f"m8[{u}]")
    cols["dt_tz"] = pd.Series(cols["dt_ns"]).dt.tz_localize("UTC").dt.tz_convert(PARIS)
    cols["dt_tz_s"] = pd.Series(cols["dt_s"]).dt.tz_localize(
        datetime.timezone(datetime.timedelta(hours=-3, minutes=-30)))
    cols["dt_utc_us"] = pd.Series(cols["dt_us"]).dt.tz_localize("UTC")
    return pd.DataFrame(cols)


def wide_frame():
    """Runs of columns of one dtype (stored as 2-D blocks) between other columns."""
    rng = _rng(3)
    X, _ = load_breast_cancer(return_X_y=True)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df.insert(5, "id", np.arange(len(df)))
    df.insert(6, "id2", np.arange(len(df)) * 3)
    df["flag"] = rng.random(len(df)) < 0.3
    df["w32"] = df["f0"].astype(np.float32)
    return df


def frame_cases():
    rng = _rng(1)
    iris = iris_frame()
    mixed = mixed_frame()
    dup = pd.DataFrame(rng.normal(size=(6, 4)), columns=["a", "b", "a", "b"])
    dup.insert(1, "a", list("uvwxyz"), allow_duplicates=True)
    mcols = pd.DataFrame(
        load_wine().data[:, :6],
        columns=pd.MultiIndex.from_product([["x", "y"], [1, 2, 3]], names=["part", "k"]))
    mrows = pd.DataFrame({"v": np.arange(6.0), "w": list("abcdef")},
                         index=pd.MultiIndex.from_arrays(
                             [["a", "a", "b", "b", None, "c"],
                              pd.to_datetime(["2020-01-01"] * 3 + ["2021-05-05"] * 3)],
                             names=["key", None]))
    diabetes = load_diabetes(as_frame=True).frame
    diabetes.index = pd.date_range("2000-01-01", periods=len(diabetes), freq="2D",
                                   tz=PARIS, name="when", unit="s")
    attrs = pd.DataFrame({"x": [1, 2]}).set_flags(allows_duplicate_labels=False)
    attrs.attrs = {"source": "sensor", "version": 3, "weights": np.arange(3.0)}
    cat_cols = pd.DataFrame(rng.normal(size=(3, 2)),
                            columns=pd.CategoricalIndex(["q", "p"], categories=["p", "q"]))
    return {
        "iris": iris,
        "mixed": mixed,
        "wide": wide_frame(),
        "duplicate_columns": dup,
        "multiindex_columns": mcols,
        "multiindex_rows": mrows,
        "datetime_index_freq": diabetes,
        "attrs_and_flags": attrs,
        "categorical_columns": cat_cols,
        "str_index": pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index(["r1", "r2"], name="row")),
        "empty": pd.DataFrame(),
        "empty_rows_only": pd.DataFrame(index=pd.Index(["a", "b"], dtype=object)),
        "empty_columns_only": pd.DataFrame(columns=pd.Index(["a", "b"], dtype=object)),
        "empty_typed": mixed.iloc[:0],
        "one_row": mixed.iloc[5:6],
        "no_rows_wide": wide_frame().iloc[:0],
    }


def series_cases():
    iris = load_iris(as_frame=True)
    rng = _rng(2)
    mixed = mixed_frame(seed=4)
    out = {
        "iris_target": iris.target,
        "iris_feature": iris.frame["petal length (cm)"],
        "tuple_name": pd.Series(rng.normal(size=4), name=("x", 1)),
        "categorical_index": pd.Series(pd.array([1, None, 3], dtype="Int64"),
                                       index=pd.CategoricalIndex(["a", "b", "a"]), name="n"),
        "multiindex": pd.Series(np.arange(6), index=pd.MultiIndex.from_product(
            [[10, 20], ["u", "v", "w"]], names=["a", "b"])),
        "empty_float": pd.Series([], dtype=np.float64, name="e"),
        "empty_object": pd.Series([], dtype=object),
        "timedelta_index": pd.Series(np.arange(5.0), index=pd.timedelta_range(
            "1h", periods=5, freq="15min", name="lag")),
    }
    for c in ("str", "string", "cat", "Float32", "boolean", "dt_tz", "dt_ms", "td_s",
              "period", "interval", "obj", "u64"):
        out[c] = mixed[c].rename(f"{c}!")
    attrs = pd.Series([1.0, 2.0], name="a")
    attrs.attrs = {"unit": "kg"}
    out["attrs"] = attrs
    return out


def index_cases():
    rng = _rng(5)
    out = {
        "range": pd.RangeIndex(3, 40, 7, name="r"),
        "range_empty": pd.RangeIndex(0),
        "range_negative": pd.RangeIndex(5, -7, -3),
        "object_mixed": pd.Index(["a", 1, None, 2.5, (1, 2)], dtype=object, name="o"),
        "object_tuples": pd.Index([(1, 2), (3, 4)], dtype=object, tupleize_cols=False),
        "str": pd.Index(["x", None, "z"], dtype="str", name="s"),
        "string_na": pd.Index(["x", None, "z"], dtype="string"),
        "empty_object": pd.Index([], dtype=object),
        "empty_datetime": pd.DatetimeIndex([], dtype="datetime64[ms]"),
        "categorical": pd.CategoricalIndex(["b", "a", None, "b"], categories=["b", "a", "c"],
                                           ordered=True, name="c"),
        "timedelta_freq": pd.timedelta_range("1D", periods=6, freq="6h", unit="s"),
        "multi": pd.MultiIndex(levels=[["a", "b", "unused"], [1.5, 2.5]],
                               codes=[[0, 1, -1, 0], [1, 0, 0, -1]], names=["l", "m"]),
        "multi_datetime": pd.MultiIndex.from_arrays(
            [pd.date_range("2020", periods=3, tz="UTC"), pd.Categorical(list("aba"))]),
        "period": pd.period_range("2020Q1", periods=5, freq="Q-MAR", name="q"),
        "interval": pd.interval_range(pd.Timestamp("2020-01-01", tz=PARIS), periods=3,
                                      freq="D", closed="both"),
    }
    for dt in ("int8", "int64", "uint32", "uint64", "float32", "float64", "bool",
               "complex128"):
        out[dt] = pd.Index((rng.normal(size=7) * 50).astype(dt), name=dt)
    for u in UNITS:
        out[f"datetime_{u}_freq"] = pd.date_range("2021-03-27", periods=5, freq="h", unit=u)
    out["datetime_tz_freq"] = pd.date_range("2021-03-27", periods=48, freq="h", tz=PARIS)
    out["datetime_fixed_offset"] = pd.DatetimeIndex(
        ["2020-01-01 01:00", None], tz=datetime.timezone(datetime.timedelta(hours=5)))
    return out


def array_cases():
    rng = _rng(6)
    n = 20
    mask = rng.random(n) < 0.3
    out = {}
    for name, kind in (("Int8", "i"), ("Int16", "i"), ("Int32", "i"), ("Int64", "i"),
                       ("UInt8", "u"), ("UInt16", "u"), ("UInt32", "u"), ("UInt64", "u"),
                       ("Float32", "f"), ("Float64", "f"), ("boolean", "b")):
        v = rng.integers(0, 100, n) if kind in "iu" else (
            rng.normal(size=n) if kind == "f" else rng.random(n) < 0.5)
        out[name] = pd.array(np.where(mask, None, v), dtype=name)
    # NaN and NA are different in nullable floats
    out["Float64_nan_and_na"] = pd.arrays.FloatingArray(np.array([np.nan, 1.0, 2.0]),
                                                        np.array([False, True, False]))
    out["categorical"] = pd.Categorical(["a", "b", None, "a"], categories=["b", "a"])
    out["categorical_ordered_ints"] = pd.Categorical([3, 1, 2], categories=[3, 2, 1],
                                                     ordered=True)
    out["categorical_datetimes"] = pd.Categorical(pd.date_range("2020", periods=3, tz=PARIS))
    out["categorical_empty"] = pd.Categorical([], categories=["x", "y"])
    out["categorical_tuple_categories"] = pd.Categorical([(1, 2), (3, 4), (1, 2)])
    out["str"] = pd.array(["a", None, "c"], dtype="str")
    out["string"] = pd.array(["a", None, "c"], dtype="string")
    out["datetime_tz"] = pd.array(pd.date_range("2020", periods=4, freq="37min", tz=PARIS))
    out["datetime_naive"] = pd.array(np.array(["2020-01-01", "NaT"], dtype="M8[ms]"))
    out["timedelta"] = pd.array(np.array([1, -2, 3], dtype="m8[us]"))
    out["numpy"] = pd.arrays.NumpyExtensionArray(np.arange(5.0))
    out["period"] = pd.period_range("2020-01-01", periods=3, freq="2D").array
    out["interval"] = pd.arrays.IntervalArray.from_breaks([0, 1.5, 3.0], closed="neither")
    return out


def scalar_cases():
    out = {f"timestamp_{u}": pd.Timestamp("2021-10-31 02:30:15.123456789").as_unit(u)
           for u in UNITS}
    out["timestamp_tz_ns"] = pd.Timestamp("2021-10-31 02:30:00.000000001+01:00").tz_convert(
        PARIS)
    out["timestamp_tz_fold"] = pd.Timestamp("2021-10-31 00:30", tz="UTC").tz_convert(PARIS)
    out["timestamp_fixed"] = pd.Timestamp("1900-01-01", tz=datetime.timezone.utc).as_unit("s")
    out["timestamp_far"] = pd.Timestamp("9000-01-01").as_unit("s")
    out.update({f"timedelta_{u}": pd.Timedelta(-123456789, "ns").as_unit(u) for u in UNITS})
    out["nat"] = pd.NaT
    out["na"] = pd.NA
    out["period"] = pd.Period("2020Q3", freq="Q-NOV")
    out["interval"] = pd.Interval(0.5, 2.0, closed="left")
    out["interval_times"] = pd.Interval(pd.Timestamp("2020"), pd.Timestamp("2021"))
    return out


def dtype_cases():
    return {
        "category_none": pd.CategoricalDtype(),
        "category": pd.CategoricalDtype(["b", "a"], ordered=True),
        "datetimetz": pd.DatetimeTZDtype("ms", PARIS),
        "str": pd.StringDtype("python", na_value=np.nan),
        "string": pd.StringDtype("python"),
        "Int16": pd.Int16Dtype(),
        "boolean": pd.BooleanDtype(),
        "Float32": pd.Float32Dtype(),
        "period": pd.PeriodDtype("W-WED"),
        "interval": pd.IntervalDtype("float64", "left"),
    }


CASES = {}
for _group, _fn in (("frame", frame_cases), ("series", series_cases), ("index", index_cases),
                    ("array", array_cases), ("scalar", scalar_cases), ("dtype", dtype_cases)):
    for _name in _fn():
        CASES[f"{_group}-{_name}"] = (_fn, _name)


def build(case):
    fn, name = CASES[case]
    return fn()[name]


# --------------------------------------------------------------------------- comparison ------

def assert_pandas_equal(exp, got):
    assert type(got) is type(exp), (type(got), type(exp))
    if isinstance(exp, pd.DataFrame):
        tm.assert_frame_equal(got, exp, check_exact=True, check_dtype=True,
                              check_index_type=True, check_column_type=True, check_freq=True,
                              check_flags=True, check_categorical=True)
        assert list(got.columns) == list(exp.columns)
        _assert_index(exp.index, got.index)
        _assert_index(exp.columns, got.columns)
        _assert_attrs(exp.attrs, got.attrs)
    elif isinstance(exp, pd.Series):
        tm.assert_series_equal(got, exp, check_exact=True, check_dtype=True,
                               check_index_type=True, check_freq=True, check_flags=True)
        _assert_index(exp.index, got.index)
        _assert_attrs(exp.attrs, got.attrs)
    elif isinstance(exp, pd.Index):
        _assert_index(exp, got)
    elif isinstance(exp, pd.api.extensions.ExtensionArray):
        assert got.dtype == exp.dtype
        tm.assert_extension_array_equal(got, exp, check_dtype=True, check_exact=True)
        if isinstance(exp.dtype, pd.Float64Dtype):  # NaN stays NaN, NA stays NA
            np.testing.assert_array_equal(got.to_numpy("f8", na_value=-1.0),
                                          exp.to_numpy("f8", na_value=-1.0))
    elif isinstance(exp, pd.api.extensions.ExtensionDtype):
        assert got == exp and str(got) == str(exp)
        if isinstance(exp, pd.CategoricalDtype) and exp.categories is not None:
            _assert_index(exp.categories, got.categories)
    elif exp is pd.NaT or exp is pd.NA:
        assert got is exp
    else:
        assert got == exp
        if isinstance(exp, (pd.Timestamp, pd.Timedelta)):
            assert got.unit == exp.unit and got.asm8 == exp.asm8
        if isinstance(exp, pd.Timestamp):
            assert got.tz == exp.tz and got.fold == exp.fold and str(got) == str(exp)
        if isinstance(exp, pd.Interval):
            assert type(got.left) is type(exp.left) and got.closed == exp.closed
        if isinstance(exp, pd.Period):
            assert got.freq == exp.freq


def _assert_index(exp, got):
    assert type(got) is type(exp)
    tm.assert_index_equal(got, exp, exact=True, check_names=True, check_exact=True,
                          check_categorical=True, check_order=True)
    assert got.dtype == exp.dtype and got.names == exp.names
    if isinstance(exp, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        assert got.freq == exp.freq
    if isinstance(exp, pd.MultiIndex):
        assert len(got.levels) == len(exp.levels)
        for a, b in zip(got.levels, exp.levels):
            tm.assert_index_equal(a, b, exact=True)
        for a, b in zip(got.codes, exp.codes):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    if isinstance(exp, pd.CategoricalIndex):
        _assert_index(exp.categories, got.categories)


def _assert_attrs(exp, got):
    assert list(got) == list(exp)
    for k in exp:
        if isinstance(exp[k], np.ndarray):
            np.testing.assert_array_equal(got[k], exp[k])
        else:
            assert got[k] == exp[k]


@pytest.fixture(scope="module")
def iris_model():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=500).fit(X, y), X


# --------------------------------------------------------------------------- round trips -----

@pytest.mark.parametrize("mmap_mode", MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(case, mmap_mode, tmp_path, iris_model):
    model, X = iris_model
    obj = build(case)
    value = {"model": model, "value": obj, "nested": [("again", obj)], "n": 3}
    path = tmp_path / "v.mle"
    mle.dump(value, path)
    out = mle.load(path, mmap_mode=mmap_mode)
    assert set(out) == {"model", "value", "nested", "n"}
    assert_pandas_equal(obj, out["value"])
    # an object seen twice loads as one object
    assert out["nested"][0][1] is out["value"]
    assert (out["model"].predict(X.iloc[:5]) == model.predict(X.iloc[:5])).all()


def _backing(a):
    """What the memory of ``a`` finally belongs to."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a.obj if isinstance(a, memoryview) else a


@pytest.mark.parametrize("mmap_mode", MODES)
def test_numeric_columns_are_memory_mapped(mmap_mode, tmp_path):
    df = wide_frame()
    df["Int64"] = pd.array(np.arange(len(df)), dtype="Int64")
    df["tz"] = pd.date_range("2020", periods=len(df), freq="min", tz=PARIS)
    path = tmp_path / "v.mle"
    mle.dump({"df": df}, path)
    out = mle.load(path, mmap_mode=mmap_mode)["df"]
    assert_pandas_equal(df, out)
    arrays = [out["f3"].to_numpy(), out["id"].to_numpy(), out["w32"].to_numpy(),
              out["tz"].array.asi8]
    for a in arrays:
        owner = _backing(a)
        if mmap_mode is None:
            assert not isinstance(owner, mmap.mmap)
        else:
            assert isinstance(owner, mmap.mmap), type(owner)
    if mmap_mode == "c":  # copy-on-write: writable, the file does not change
        out.iloc[0, 0] = -1.0
        assert out.iloc[0, 0] == -1.0
        again = mle.load(path, mmap_mode="r")["df"]
        assert again.iloc[0, 0] == df.iloc[0, 0]


def test_shared_parts_load_as_one_object(tmp_path):
    idx = pd.Index(["a", "b", "c"], name="k")
    s1 = pd.Series([1.0, 2.0, 3.0], index=idx)
    s2 = pd.Series([4, 5, 6], index=idx)
    assert s1.index is s2.index
    cat = pd.Categorical(["x", "y", "x"])
    df = iris_frame()
    value = [s1, s2, cat, cat, df, {"same": df}, idx]
    path = tmp_path / "v.mle"
    mle.dump(value, path)
    out = mle.load(path)
    assert out[0].index is out[1].index is out[6]
    assert out[2] is out[3]
    assert out[4] is out[5]["same"]
    assert_pandas_equal(s1, out[0])
    assert_pandas_equal(cat, out[2])


@pytest.mark.parametrize("mmap_mode", MODES)
def test_proxy_predicts_loaded_frame_like_the_model(mmap_mode, tmp_path, assert_same):
    b = load_iris(as_frame=True)
    X, y = b.data, b.target
    model = LogisticRegression(max_iter=500).fit(X, y)
    path = tmp_path / "v.mle"
    mle.dump({"model": model, "train": X, "target": y}, path)
    out = mle.load(path, mmap_mode=mmap_mode)
    assert_pandas_equal(X, out["train"])
    assert_pandas_equal(y, out["target"])
    proxy = out["model"]
    for rows in (out["train"], out["train"].iloc[[7]], out["train"].iloc[::-3]):
        orig = X.loc[rows.index]
        assert_same(model.predict(orig), proxy.predict(rows))
        assert_same(model.predict_proba(orig), proxy.predict_proba(rows))
    # columns are matched by name, as scikit-learn does
    with pytest.raises(ValueError):
        proxy.predict(out["train"][list(X.columns[::-1])].rename(columns=str.upper))


def test_pandas_free_value_does_not_import_pandas(tmp_path):
    X, y = load_iris(return_X_y=True)
    plain = tmp_path / "plain.mle"
    mle.dump({"model": LogisticRegression(max_iter=500).fit(X, y), "X": X[:4],
              "when": datetime.datetime(2020, 1, 1, tzinfo=PARIS), "names": ["a", "b"]},
             plain)
    framed = tmp_path / "framed.mle"
    mle.dump({"X": pd.DataFrame(X[:4])}, framed)
    script = ("import sys, mle_runtime as mle\n"
              "v = mle.load(sys.argv[1], mmap_mode='r')\n"
              "print('pandas' in sys.modules)\n")
    for path, expected in ((plain, "False"), (framed, "True")):
        proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == expected, path.name


def test_pandas_value_without_pandas_asks_for_it(tmp_path):
    path = tmp_path / "framed.mle"
    mle.dump({"X": pd.DataFrame({"a": [1.0]})}, path)
    script = ("import sys\n"
              "sys.modules['pandas'] = None  # as if pandas were not installed\n"
              "import mle_runtime as mle\n"
              "try:\n"
              "    mle.load(sys.argv[1])\n"
              "except mle.errors.MLEError as e:\n"
              "    print(type(e).__name__, e)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "install pandas" in proc.stdout, proc.stdout


# --------------------------------------------------------------------------- refusals --------

def test_sparse_column_is_refused_naming_its_path(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "sp": pd.arrays.SparseArray([0, 0, 1.0])})
    with pytest.raises(UnsupportedModelError) as e:
        mle.dump({"train": df}, tmp_path / "v.mle")
    msg = str(e.value)
    assert "value['train']['sp']" in msg and "Sparse" in msg and "allow_pickle" in msg
    assert not (tmp_path / "v.mle").exists()
    problems = values.describe_problems({"train": df}, hooks=value_hooks())
    assert [p[0] for p in problems] == ["value['train']['sp']"]


def test_refused_part_pickled_on_request_keeps_the_rest_native(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "sp": pd.arrays.SparseArray([0, 0, 1.0]),
                       "z": pd.Categorical(["u", "v", "u"])})
    value = {"df": df, "x": np.arange(3), "again": df, "s": df["z"]}
    path = tmp_path / "v.mle"
    mle.dump(value, path, allow_pickle=True)
    with pytest.raises(mle.PickleNotAllowedError):
        mle.load(path)
    meta = container.parse(path.read_bytes()).json(L.SECTION_META)
    assert [p["path"] for p in meta["contents"]["pickled"]] == ["value['df']['sp']"]
    out = mle.load(path, allow_pickle=True)
    assert_pandas_equal(df, out["df"])
    assert out["df"] is out["again"]
    np.testing.assert_array_equal(out["x"], np.arange(3))
    assert_pandas_equal(df["z"], out["s"])


@pytest.mark.parametrize("what", ["custom_business_freq", "date_offset", "sparse_dtype",
                                  "subclass"])
def test_unsupported_objects_are_refused(what, tmp_path):
    if what == "custom_business_freq":
        obj = pd.Series(1.0, index=pd.bdate_range("2020-01-01", periods=4, freq="C",
                                                  holidays=["2020-01-02"]))
        where, why = "value.index", "index.freq = None"
    elif what == "date_offset":
        obj, where, why = pd.DateOffset(days=2), "value", "not stored natively"
    elif what == "sparse_dtype":
        obj, where, why = pd.SparseDtype("float64"), "value", "Sparse"
    else:
        obj = pd.Series([1, 2]).to_frame().style  # pandas' Styler
        where, why = "value", "not stored natively"
    with pytest.raises(UnsupportedModelError) as e:
        mle.dump(obj, tmp_path / "v.mle")
    assert f"{where} (a " in str(e.value) and why in str(e.value)


# --------------------------------------------------------------------------- hostile files ---

def _sections(path):
    c = container.parse(path.read_bytes())
    return c, [(s.kind, bytes(c.payload(s))) for s in c.sections]


def _repack(path, sections, out):
    out.write_bytes(writer.pack_sections([(k, b, L.DATA_ALIGN) for k, b in sections],
                                         minor=L.MINOR_VALUES))


def tampered(path, out, edit_tree=None, edit_data=None):
    """A copy of the value file at ``path`` whose value JSON / tensor data were edited (all
    checksums valid again)."""
    _, sections = _sections(path)
    new = []
    for kind, data in sections:
        if kind == L.SECTION_VALUE and edit_tree is not None:
            tree = json.loads(data)
            edit_tree(tree)
            data = json.dumps(tree).encode()
        if kind == L.SECTION_DATA and edit_data is not None:
            data = bytearray(data)
            edit_data(data)
            data = bytes(data)
        new.append((kind, data))
    _repack(path, new, out)
    return out


def hostile_value(columns=None):
    """One of each pandas node (``columns``: the mixed frame's columns to keep)."""
    mixed = mixed_frame(n=5)
    return {
        "frame": mixed if columns is None else mixed[columns],
        "block": pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=list("abc")),
        "series": pd.Series([1.0, 2.0, 3.0], index=pd.RangeIndex(3), name="s"),
        "multi": pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["x", "y"]),
        "dt_index": pd.date_range("2020", periods=3, freq="2D"),
        "cat": pd.Categorical(["a", "b", "a"]),
        "scalars": [pd.Timestamp("2020-01-01", tz=PARIS).as_unit("s"), pd.Timedelta(3, "s"),
                    pd.NaT, pd.NA, pd.Period("2020-01", "M"), pd.Interval(1, 2)],
        "dtypes": list(dtype_cases().values()),
    }


def _value_file(path, value):
    mle.dump(value, path)
    return path, container.parse(path.read_bytes()).json(L.SECTION_VALUE), value


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory):
    """A file holding one of each pandas node, its value tree and the value."""
    return _value_file(tmp_path_factory.mktemp("hostile") / "base.mle", hostile_value())


def _root_item(tree, key):
    return tree["root"][1][key]


def _find(node, tag):
    """The first node with ``tag`` under ``node`` (depth first)."""
    if isinstance(node, list):
        if node and node[0] == tag:
            return node
        for x in node:
            r = _find(x, tag)
            if r is not None:
                return r
    elif isinstance(node, dict):
        for x in node.values():
            r = _find(x, tag)
            if r is not None:
                return r
    return None


def test_hostile_base_file_loads(hostile_file):
    path, _, value = hostile_file
    out = mle.load(path)
    for k in ("frame", "block", "series", "multi", "dt_index", "cat"):
        assert_pandas_equal(value[k], out[k])


def _edit(key, fn):
    def edit(tree):
        fn(_root_item(tree, key))
    return edit


def _set(i, v):
    def f(node):
        node[i] = v
    return f


HOSTILE_EDITS = {
    # frames
    "frame_drops_a_column": _edit("frame", lambda n: n[3].pop()),
    "frame_index_is_a_string": _edit("frame", _set(1, "index")),
    "frame_columns_is_a_list": _edit("frame", _set(2, ["list", "a"])),
    "frame_data_not_a_list": _edit("frame", _set(3, {"a": 1})),
    "frame_attrs_not_a_dict": _edit("frame", _set(4, ["list", 1])),
    "frame_flag_not_bool": _edit("frame", _set(5, 1)),
    "frame_extra_part": _edit("frame", lambda n: n.append(None)),
    "frame_column_is_a_dict": _edit("frame", lambda n: n[3].__setitem__(0, ["dict", {}])),
    "frame_column_is_a_scalar": _edit("frame", lambda n: n[3].__setitem__(0, 1.5)),
    "block_rows_mismatch": _edit("block", lambda n: n[3][0][2].__setitem__(0, 3)),
    "block_3d": _edit("block", lambda n: n[3][0].__setitem__(2, [4, 3, 1])),
    "block_wider_than_columns": _edit("block", lambda n: n[3][0][2].__setitem__(1, 2)),
    "block_day_unit": _edit("block", lambda n: n[3][0].__setitem__(1, "<M8[D]")),
    # series
    "series_index_too_long": _edit("series", lambda n: n[2].__setitem__(2, 4)),
    "series_name_unhashable": _edit("series", _set(3, ["list", 1])),
    "series_values_is_index": _edit("series", lambda n: n.__setitem__(1, n[2])),
    # range
    "range_step_zero": _edit("series", lambda n: n[2].__setitem__(3, 0)),
    "range_huge": _edit("series", lambda n: n[2].__setitem__(2, 2**70)),
    "range_float": _edit("series", lambda n: n[2].__setitem__(2, 3.0)),
    "range_bool": _edit("series", lambda n: n[2].__setitem__(1, True)),
    # index
    "index_freq_wrong": _edit("dt_index", _set(3, "3D")),
    "index_freq_garbage": _edit("dt_index", _set(3, "not a frequency")),
    "index_freq_int": _edit("dt_index", _set(3, 2)),
    "index_values_2d": _edit("dt_index", lambda n: n[1].__setitem__(2, [3, 1])),
    "index_values_dict": _edit("dt_index", _set(1, ["dict", {}])),
    # multi
    "multi_level_too_short": _edit("multi", lambda n: n[1].__setitem__(
        0, ["pd.range", 0, 1, 1, "x"])),
    "multi_codes_unsigned": _edit("multi", lambda n: n[2][0].__setitem__(1, "|u1")),
    "multi_codes_bool": _edit("multi", lambda n: n[2][0].__setitem__(1, "|b1")),
    "multi_codes_lengths": _edit("multi", lambda n: n[2][0][2].__setitem__(0, 3)),
    "multi_names_short": _edit("multi", lambda n: n[3].pop()),
    "multi_no_levels": _edit("multi", lambda n: n.__setitem__(slice(1, 4), [[], [], []])),
    "multi_sortorder": _edit("multi", _set(4, 7)),
    "multi_level_bad_ref": _edit("multi", lambda n: n[1].__setitem__(0, ["ref", 10**6])),
    # categorical
    "cat_ordered_not_bool": _edit("cat", _set(3, "yes")),
    "cat_codes_unsigned": _edit("cat", lambda n: n[2].__setitem__(1, "|u1")),
    "cat_categories_not_index": _edit("cat", _set(1, ["list", "a", "b"])),
    "cat_categories_duplicated": _edit("cat", _set(1, [
        "pd.index", ["objarray", [2], "C", ["a", "a"]], None, None])),
    "cat_categories_too_few": _edit("cat", _set(1, ["pd.range", 0, 1, 1, None])),
    # scalars and dtypes
    "ts_value_string": _edit("scalars", lambda n: n[1].__setitem__(1, "0")),
    "ts_unit_hours": _edit("scalars", lambda n: n[1].__setitem__(2, "h")),
    "ts_nat_value": _edit("scalars", lambda n: n[1].__setitem__(1, -2**63)),
    "ts_value_too_big": _edit("scalars", lambda n: n[1].__setitem__(1, 2**63)),
    "ts_out_of_bounds": _edit("scalars", lambda n: n[1].__setitem__(1, 2**62)),
    "ts_bad_zone": _edit("scalars", lambda n: n[1].__setitem__(3, ["zone", "Mars/Olympus"])),
    "td_unit_days": _edit("scalars", lambda n: n[2].__setitem__(2, "D")),
    "nat_extra_part": _edit("scalars", lambda n: n[3].append(1)),
    "na_extra_part": _edit("scalars", lambda n: n[4].append(None)),
    "period_freq_garbage": _edit("scalars", lambda n: n[5].__setitem__(2, "fortnightly")),
    "interval_closed": _edit("scalars", lambda n: n[6].__setitem__(3, "up")),
    "interval_reversed": _edit("scalars", lambda n: n[6].__setitem__(1, 5)),
    "interval_list_bound": _edit("scalars", lambda n: n[6].__setitem__(1, ["list", 1])),
    "dtype_unknown_kind": _edit("dtypes", lambda n: n[1].__setitem__(1, "quantum")),
    "dtype_interval_object": _edit("dtypes", lambda n: n[-1].__setitem__(2, "|O")),
    "dtype_masked_name": _edit("dtypes", lambda n: n[6].__setitem__(2, "Int128")),
    "dtype_tz_missing": _edit("dtypes", lambda n: n[3].__setitem__(3, None)),
    "unknown_pandas_tag": _edit("scalars", lambda n: n[3].__setitem__(0, "pd.nope")),
}


@pytest.mark.parametrize("edit", sorted(HOSTILE_EDITS))
def test_hostile_value_nodes_raise_format_error(edit, hostile_file, tmp_path):
    path, _, _ = hostile_file
    bad = tampered(path, tmp_path / "bad.mle", edit_tree=HOSTILE_EDITS[edit])
    for mode in MODES:
        with pytest.raises(FormatError):
            mle.load(bad, mmap_mode=mode)


def _column_node(tree, tag):
    return _find(_root_item(tree, "frame"), tag)


@pytest.mark.parametrize("what,tag,value", [
    ("categorical code above the categories", "pd.cat", 100),
    ("categorical code below -1", "pd.cat", -5),
    ("multiindex code above its level", "pd.multi", 9),
    ("multiindex code below -1", "pd.multi", -2),
])
def test_out_of_range_codes_in_the_data_raise_format_error(what, tag, value, hostile_file,
                                                          tmp_path):
    path, tree, _ = hostile_file
    if tag == "pd.cat":
        codes = _root_item(tree, "cat")[2]
    else:
        codes = _root_item(tree, "multi")[2][1]
    assert codes[0] == "array" and codes[1] == "|i1", codes
    off = codes[3]

    def edit(data):
        data[off + 1] = np.int8(value).view(np.uint8)

    bad = tampered(path, tmp_path / "bad.mle", edit_data=edit)
    with pytest.raises(FormatError, match="code|level|categor"):
        mle.load(bad)


def test_string_elements_must_be_strings(hostile_file, tmp_path):
    path, tree, _ = hostile_file

    def edit(t):
        node = _column_node(t, "pd.str")
        node[3][3][0] = 5  # an int among the strings
    bad = tampered(path, tmp_path / "bad.mle", edit_tree=edit)
    with pytest.raises(FormatError, match="str"):
        mle.load(bad)

    def edit_storage(t):
        _column_node(t, "pd.str")[1] = "rust"
    bad = tampered(path, tmp_path / "bad2.mle", edit_tree=edit_storage)
    with pytest.raises(FormatError, match="storage"):
        mle.load(bad)


def test_pyarrow_strings_need_pyarrow(hostile_file, tmp_path):
    """A file written where pandas stored strings with pyarrow keeps that dtype: it loads
    where pyarrow is installed, and asks for it elsewhere."""
    path, _, value = hostile_file

    def edit(t):
        _column_node(t, "pd.str")[1] = "pyarrow"
    bad = tampered(path, tmp_path / "arrow.mle", edit_tree=edit)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        # UnsupportedModelError; values.Decoder.decode_root currently rewraps it (a TypeError)
        # as FormatError, keeping the message
        with pytest.raises((UnsupportedModelError, FormatError), match="install pyarrow"):
            mle.load(bad)
    else:
        got = mle.load(bad)["frame"]["str"]
        assert got.dtype == pd.StringDtype("pyarrow", na_value=np.nan)
        assert got.tolist() == value["frame"]["str"].tolist()


def test_masked_parts_are_checked(hostile_file, tmp_path):
    path, _, _ = hostile_file
    edits = {
        "name": lambda n: n.__setitem__(1, "Int128"),
        "data dtype": lambda n: n[2].__setitem__(1, "|u1"),
        "mask dtype": lambda n: n[3].__setitem__(1, "|i1"),
        "mask length": lambda n: n[3][2].__setitem__(0, 4),
        "parts": lambda n: n.pop(),
    }
    for what, fn in edits.items():
        bad = tampered(path, tmp_path / "bad.mle",
                       edit_tree=lambda t, fn=fn: fn(_column_node(t, "pd.masked")))
        with pytest.raises(FormatError):
            mle.load(bad)


def test_datetime_tz_parts_are_checked(hostile_file, tmp_path):
    path, _, _ = hostile_file
    edits = {
        "int times": lambda n: n[1].__setitem__(1, "<i8"),
        "day unit": lambda n: n[1].__setitem__(1, "<M8[D]"),
        "no zone": lambda n: n.__setitem__(2, None),
        "bad zone": lambda n: n.__setitem__(2, ["zone", 3]),
    }
    for what, fn in edits.items():
        bad = tampered(path, tmp_path / "bad.mle",
                       edit_tree=lambda t, fn=fn: fn(_column_node(t, "pd.dt")))
        with pytest.raises(FormatError):
            mle.load(bad)


_GARBAGE = (None, "x", 1.5, 2**40, [], ["list"], ["ref", 0], ["array", "<f8", [2], 0, "C"])


def _pd_parts(node, at=()):
    """Paths (tuples of list indices and dict keys) of every part of every pandas node."""
    if isinstance(node, list):
        if node and isinstance(node[0], str) and node[0].startswith("pd."):
            for i in range(len(node) + 1):
                yield at + (i,)
        for i, x in enumerate(node):
            yield from _pd_parts(x, at + (i,))
    elif isinstance(node, dict):
        for k, x in node.items():
            yield from _pd_parts(x, at + (k,))


def test_every_part_of_every_pandas_node_is_validated(tmp_path):
    """Each part of each pandas node, replaced by garbage (or dropped): loading either
    succeeds or raises FormatError; never another exception, never a crash."""
    path, tree, _ = _value_file(tmp_path / "base.mle", hostile_value(
        ["f64", "f64_nan", "obj", "str", "string", "cat", "Int8", "boolean", "period",
         "interval", "dt_tz", "dt_ms", "td_s"]))
    parts = list(_pd_parts(tree["root"]))
    assert len(parts) > 100
    outcomes = {"ok": 0, "FormatError": 0}
    bad = tmp_path / "bad.mle"
    for where in parts:
        for garbage in _GARBAGE + ("drop",):
            t = copy.deepcopy(tree)
            parent = t["root"]
            for k in where[:-1]:
                parent = parent[k]
            i = where[-1]
            if garbage == "drop":
                if i >= len(parent) or i == 0:
                    continue
                del parent[i]
            elif i >= len(parent):
                parent.append(garbage)
            else:
                parent[i] = copy.deepcopy(garbage)
            tampered(path, bad, edit_tree=lambda x, t=t: x.update(t))
            try:
                mle.load(bad)
            except FormatError:
                outcomes["FormatError"] += 1
            else:
                outcomes["ok"] += 1
    assert outcomes["FormatError"] > 10 * outcomes["ok"], outcomes
