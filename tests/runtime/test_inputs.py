"""Input adaptation (mle_runtime.runtime.inputs): the array types, dtypes, shapes and
DataFrames a caller may pass, and the errors for what a model cannot take."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import mle_runtime as mle
from mle_runtime.runtime.inputs import as_matrix, integer_dtype

COLS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def iris(dataset):
    return dataset("iris")


@pytest.fixture
def logreg(iris, roundtrip):
    X, y = iris
    model = LogisticRegression(max_iter=300).fit(X, y)
    return model, roundtrip(model)


@pytest.fixture
def logreg_df(iris, roundtrip):
    X, y = iris
    df = pd.DataFrame(X, columns=COLS)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(df, y)
    return model, roundtrip(model), df


# ---------------------------------------------------------------- arrays

def test_float_c_contiguous_input_is_not_copied(logreg, iris):
    X, _ = iris
    _, proxy = logreg
    assert as_matrix(X, proxy) is X
    x32 = np.ascontiguousarray(X, dtype=np.float32)
    assert as_matrix(x32, proxy) is x32
    f = np.asfortranarray(X)
    out = as_matrix(f, proxy)
    assert out.flags.c_contiguous and out.dtype == np.float64
    np.testing.assert_array_equal(out, X)


@pytest.mark.parametrize("convert,expected_dtype", [
    (lambda X: X.astype(np.int64), np.float64),
    (lambda X: X.astype(np.int32), np.float64),
    (lambda X: X.astype(np.uint8), np.float64),
    (lambda X: X > 3, np.float64),
    (lambda X: X.astype(np.float16), np.float64),
    (lambda X: X.astype(">f8"), np.float64),
    (lambda X: X.astype(">f4"), np.float64),
    (lambda X: X.astype(object), np.float64),
    (lambda X: X.tolist(), np.float64),
    (lambda X: tuple(map(tuple, X)), np.float64),
    (lambda X: X.astype(np.float32), np.float32),
], ids=["int64", "int32", "uint8", "bool", "float16", "big-endian-f8", "big-endian-f4",
        "object", "list", "tuple", "float32"])
def test_dtype_conversion_matches_sklearn(convert, expected_dtype, logreg, iris, assert_same):
    X, _ = iris
    model, proxy = logreg
    data = convert(X)
    m = as_matrix(data, proxy)
    assert m.dtype == expected_dtype and m.ndim == 2 and m.flags.c_contiguous
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba"):
        assert_same(getattr(model, method)(data), getattr(proxy, method)(data),
                    f"{method} on {type(data).__name__}")


def test_non_contiguous_and_readonly(logreg, iris, assert_same):
    X, _ = iris
    model, proxy = logreg
    wide = np.hstack([X, X])
    view = wide[::3, 2:6]
    assert not view.flags.c_contiguous
    assert_same(model.predict_proba(view), proxy.predict_proba(view))
    ro = X.copy()
    ro.setflags(write=False)
    assert_same(model.predict_proba(ro), proxy.predict_proba(ro))
    assert_same(model.predict(X[::-1]), proxy.predict(X[::-1]))


@pytest.mark.parametrize("bad,match", [
    (lambda X: X[0], "Expected 2D array, got 1D array"),
    (lambda X: X[0].tolist(), "Expected 2D array, got 1D array"),
    (lambda X: np.float64(1.0), "Expected 2D array, got scalar array"),
    (lambda X: X[None], "dim 3"),
    (lambda X: X[:0], "0 sample"),
    (lambda X: X.astype(str), "numeric"),
    (lambda X: X.astype(complex), "numeric"),
    (lambda X: pd.Series(X[:, 0]), "2D"),
], ids=["1d", "1d-list", "scalar", "3d", "empty", "strings", "complex", "series"])
def test_refused_shapes_and_types(bad, match, logreg, iris):
    X, _ = iris
    model, proxy = logreg
    data = bad(X)
    with pytest.raises(ValueError):
        model.predict(data)
    for method in ("predict", "predict_proba"):
        with pytest.raises(mle.InputError, match=match):
            getattr(proxy, method)(data)


def test_sparse_input_is_refused_with_advice(logreg, iris):
    X, _ = iris
    _, proxy = logreg
    with pytest.raises(mle.InputError, match="toarray"):
        proxy.predict(sp.csr_matrix(X))
    with pytest.raises(ValueError, match="sparse"):
        proxy.predict_proba(sp.csr_array(X))


def test_wrong_feature_count(logreg, iris):
    X, _ = iris
    model, proxy = logreg
    msg = "X has 3 features, but LogisticRegression is expecting 4 features as input"
    with pytest.raises(ValueError, match=msg):
        model.predict(X[:, :3])
    with pytest.raises(mle.InputError, match=msg) as info:
        proxy.predict(X[:, :3])
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="X has 3 features"):
        proxy.predict_proba(X[:1, :3].astype(np.float32))
    with pytest.raises(ValueError, match="X has 5 features, but LogisticRegression"):
        proxy.decision_function(np.ones((2, 5)))
    with pytest.raises(ValueError):
        proxy.predict(np.zeros((5, 0)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_and_inf_refused(dtype, logreg, iris):
    X, _ = iris
    model, proxy = logreg
    for row in (0, 77, 149):  # in the first, a middle and the last row block
        bad = X.astype(dtype)
        bad[row, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            model.predict(bad)
        with pytest.raises(mle.InputError, match="Input X contains NaN") as info:
            proxy.predict(bad)
        assert "LogisticRegression" in str(info.value)
        bad[row, 1] = np.inf
        with pytest.raises(mle.InputError, match="infinity"):
            proxy.predict_proba(bad)
        bad[row, 1] = -np.inf
        with pytest.raises(mle.InputError, match="infinity"):
            proxy.decision_function(bad)
    with pytest.raises(mle.InputError, match="NaN"):
        proxy.predict([[1.0, float("nan"), 2.0, 3.0]])


def test_nan_is_refused_in_large_threaded_batches(logreg, iris):
    X, _ = iris
    _, proxy = logreg
    big = np.tile(X, (40, 1))
    big[-1, -1] = np.nan
    for n in (1, 4):
        with pytest.raises(mle.InputError, match="NaN"):
            proxy.predict(big, n_threads=n)


def test_integer_dtype_helper():
    assert integer_dtype(np.zeros((2, 2), dtype=np.int32)) == np.int32
    assert integer_dtype(np.zeros((2, 2), dtype=bool)) == np.bool_
    assert integer_dtype(np.zeros((2, 2))) is None
    assert integer_dtype([[1, 2]]) == np.asarray([[1, 2]]).dtype
    assert integer_dtype([[1.5, 2]]) is None
    assert integer_dtype(pd.DataFrame({"a": [1], "b": np.array([2], dtype=np.int32)})) == \
        np.int64
    assert integer_dtype(pd.DataFrame({"a": [1], "b": [2.0]})) is None


# ---------------------------------------------------------------- DataFrames

def test_dataframe_same_as_array(logreg_df, iris, assert_same):
    X, _ = iris
    model, proxy, df = logreg_df
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba"):
        assert_same(getattr(model, method)(df), getattr(proxy, method)(df), method)
        assert_same(getattr(model, method)(df), getattr(proxy, method)(X), method)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dataframe_shuffled_columns(seed, logreg_df, assert_same):
    model, proxy, df = logreg_df
    order = list(np.random.RandomState(seed).permutation(COLS))
    assert order != COLS
    shuffled = df[order]
    assert_same(proxy.predict_proba(df), proxy.predict_proba(shuffled))
    assert_same(model.predict_proba(df), proxy.predict_proba(shuffled))
    assert_same(model.predict(df), proxy.predict(shuffled))
    assert_same(model.predict(df.iloc[[3]]), proxy.predict(shuffled.iloc[[3]]))


def test_dataframe_missing_column(logreg_df):
    _, proxy, df = logreg_df
    for col in COLS:
        with pytest.raises(mle.InputError, match=col) as info:
            proxy.predict(df.drop(columns=[col]))
        assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="sepal_width.*petal_width|petal_width.*sepal_width"):
        proxy.predict_proba(df[["sepal_length", "petal_length"]])


def test_dataframe_unseen_column(logreg_df):
    model, proxy, df = logreg_df
    extra = df.assign(extra=1.0)
    with pytest.raises(ValueError):
        model.predict(extra)
    with pytest.raises(mle.InputError, match="extra"):
        proxy.predict(extra)


def test_dataframe_dtypes(iris, roundtrip, assert_same):
    X, _ = iris
    df = pd.DataFrame(X, columns=COLS)
    model = MinMaxScaler().fit(df)
    proxy = roundtrip(model)
    for frame in (df.astype(np.float32),  # float32 stays float32
                  df.astype({"sepal_length": np.float32}),  # mixed: float64
                  (df * 10).astype(np.int64),
                  df.astype({"sepal_width": np.int32}),
                  df.astype("Float64")):  # pandas nullable dtype
        assert_same(model.transform(frame), proxy.transform(frame), str(frame.dtypes.tolist()))
    with pytest.raises(mle.InputError, match="numeric"):
        proxy.transform(df.assign(sepal_length="x"))


@pytest.mark.parametrize("marker", [np.nan, pd.NA], ids=["nan", "pd.NA"])
def test_dataframe_with_pandas_na_into_imputer(marker, iris, roundtrip, assert_same):
    X, y = iris
    df = pd.DataFrame(X, columns=COLS).astype("Float64")
    df.iloc[::4, 2] = pd.NA
    model = make_pipeline(SimpleImputer(missing_values=marker),
                          LogisticRegression(max_iter=300)).fit(df, y)
    proxy = roundtrip(model)
    assert_same(model.predict_proba(df), proxy.predict_proba(df))
    assert_same(model.predict(df), proxy.predict(df[COLS[::-1]]))


def test_dataframe_given_to_a_model_fitted_on_arrays(iris, roundtrip):
    # scikit-learn only warns and matches columns by position; so do we.
    X, y = iris
    model = Ridge().fit(X, y)
    proxy = roundtrip(model)
    df = pd.DataFrame(X, columns=["w", "x", "y", "z"])
    with pytest.warns(UserWarning):
        expected = model.predict(df)
    np.testing.assert_allclose(proxy.predict(df), expected, rtol=0, atol=1e-9)


def test_array_given_to_a_model_fitted_on_a_dataframe(logreg_df, iris, assert_same):
    X, _ = iris
    model, proxy, _ = logreg_df
    with pytest.warns(UserWarning):
        expected = model.predict_proba(X)
    assert_same(expected, proxy.predict_proba(X))


def test_dataframe_subclass_is_matched_by_name(logreg_df, assert_same):
    class MyFrame(pd.DataFrame):
        @property
        def _constructor(self):
            return MyFrame

    model, proxy, df = logreg_df
    mine = MyFrame(df[COLS[::-1]])
    assert type(mine) is not pd.DataFrame
    assert_same(model.predict_proba(df), proxy.predict_proba(mine))


def _frame_by_columns(X):
    """A frame built one column at a time, in several dtypes: one block per column, blocks
    not in column order (pandas places a column's block where it was inserted)."""
    df = pd.DataFrame(index=pd.RangeIndex(len(X)))
    df["petal_width"] = X[:, 3].astype(np.float16)
    df["sepal_length"] = X[:, 0]
    df["petal_length"] = (X[:, 2] * 10).astype(np.int8)
    df.insert(1, "sepal_width", (X[:, 1] > 3.0))
    return df[["sepal_length", "sepal_width", "petal_length", "petal_width"]].copy(deep=False)


def test_dataframe_blocks_in_any_order_and_dtype(iris, roundtrip, assert_same):
    X, y = iris
    df = _frame_by_columns(X)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(df, y)
    proxy = roundtrip(model)
    for frame in (df, df.iloc[::3], df.iloc[[7]], df.iloc[5:6],
                  df.astype({"petal_length": np.uint16}), df.astype(np.float32)):
        assert_same(model.predict_proba(frame), proxy.predict_proba(frame),
                    str(frame.dtypes.tolist()))
        assert_same(model.predict(frame), proxy.predict(frame))
        # scikit-learn refuses reordered columns; a loaded model matches them by name
        assert_same(model.predict_proba(frame), proxy.predict_proba(frame[COLS[::-1]]))


def test_dataframe_column_check_after_a_match(logreg_df, assert_same):
    # the columns found in the model's order once are not compared again; any other frame is
    model, proxy, df = logreg_df
    for _ in range(2):
        assert_same(model.predict_proba(df.iloc[:1]), proxy.predict_proba(df.iloc[:1]))
        assert_same(model.predict_proba(df.iloc[3:4]), proxy.predict_proba(df[COLS[::-1]].iloc[3:4]))
        renamed = df.rename(columns={"petal_width": "width"})
        with pytest.raises(mle.InputError, match="petal_width"):
            proxy.predict(renamed.iloc[:1])
        with pytest.raises(mle.InputError, match="petal_width"):
            proxy.predict(df.iloc[:1, :3])


def test_dataframe_category_codes_with_missing_values(roundtrip, assert_same):
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "c": pd.Categorical(rng.choice(["a", "b", "c"], 50)),
        "x": rng.normal(size=50),
        "s": pd.Series(rng.choice(["u", "v"], 50), dtype="str")})
    y = (df["x"] > 0).to_numpy().astype(int)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["c", "s"]),
                                (OrdinalEncoder(handle_unknown="use_encoded_value",
                                                unknown_value=-1), ["c"]),
                                remainder="passthrough"),
        LogisticRegression()).fit(df, y)
    proxy = roundtrip(model)
    test = df.iloc[:6].copy()
    test["c"] = pd.Categorical(["a", None, "z", "b", "c", None], categories=["z", "c", "b", "a"])
    for frame in (test, test.iloc[[1]], test.iloc[[2]], df):
        assert_same(model.predict_proba(frame), proxy.predict_proba(frame))
