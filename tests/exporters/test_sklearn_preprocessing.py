"""Parity of scikit-learn's scalers, Normalizer and SimpleImputer with their .mle proxies.

Transform outputs must have scikit-learn's dtype (float32 in, float32 out) and agree within
1e-9, which for float32 outputs means bit-for-bit; StandardScaler on float32 is checked for
exact equality explicitly.
"""

import warnings

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)

import mle_runtime as mle

pytestmark = pytest.mark.filterwarnings(
    "ignore:Skipping features without any observed values:UserWarning")

TRANSFORMERS = {
    "StandardScaler": lambda: StandardScaler(),
    "StandardScaler(with_mean=False)": lambda: StandardScaler(with_mean=False),
    "StandardScaler(with_std=False)": lambda: StandardScaler(with_std=False),
    "StandardScaler(identity)": lambda: StandardScaler(with_mean=False, with_std=False),
    "MinMaxScaler": lambda: MinMaxScaler(),
    "MinMaxScaler(-3,0.5)": lambda: MinMaxScaler(feature_range=(-3, 0.5)),
    "MinMaxScaler(clip)": lambda: MinMaxScaler(clip=True),
    "MinMaxScaler(clip,-1,2)": lambda: MinMaxScaler(feature_range=(-1, 2), clip=True),
    "MaxAbsScaler": lambda: MaxAbsScaler(),
    "RobustScaler": lambda: RobustScaler(),
    "RobustScaler(no-centering)": lambda: RobustScaler(with_centering=False),
    "RobustScaler(no-scaling,q=10-90)": lambda: RobustScaler(with_scaling=False,
                                                             quantile_range=(10, 90)),
    "Normalizer(l1)": lambda: Normalizer(norm="l1"),
    "Normalizer(l2)": lambda: Normalizer(norm="l2"),
    "Normalizer(max)": lambda: Normalizer(norm="max"),
    "SimpleImputer(mean)": lambda: SimpleImputer(strategy="mean"),
    "SimpleImputer(median)": lambda: SimpleImputer(strategy="median"),
    "SimpleImputer(most_frequent)": lambda: SimpleImputer(strategy="most_frequent"),
    "SimpleImputer(constant)": lambda: SimpleImputer(strategy="constant", fill_value=-2.5),
}

DATA = ["iris", "wine", "breast_cancer", "diabetes", "regression"]


def _with_holes(X, seed=0, frac=0.1):
    """A copy of X with about frac of its entries set to NaN (never a whole row)."""
    rng = np.random.RandomState(seed)
    X = X.copy()
    mask = rng.rand(*X.shape) < frac
    mask[:, 0] &= np.arange(X.shape[0]) % 2 == 0
    X[mask] = np.nan
    return X


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_transformer_parity(name, data, dataset, roundtrip, assert_parity):
    X, _ = dataset(data)
    model = TRANSFORMERS[name]().fit(X)
    proxy = roundtrip(model)
    assert assert_parity(model, proxy, X) == ["transform"]
    assert proxy.get_model_info()["estimator_type"] == "transformer"
    assert proxy.n_features_in_ == X.shape[1]
    with pytest.raises(AttributeError):
        proxy.classes_


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_transformer_out_of_range_data(name, dataset, roundtrip, assert_same, float32_row_norm):
    uses_float32_row_norm = float32_row_norm[0]
    # Values outside the fitted range (negative, large, zeros, a zero row) exercise clipping,
    # scaling of unseen magnitudes and Normalizer's zero-norm rule.
    X, _ = dataset("iris")
    model = TRANSFORMERS[name]().fit(X)
    proxy = roundtrip(model)
    rng = np.random.RandomState(5)
    Z = rng.normal(scale=20.0, size=(40, X.shape[1]))
    Z[3] = 0.0
    Z[4, :2] = 0.0
    for data in (Z, Z.astype(np.float32)):
        assert_same(model.transform(data), proxy.transform(data), f"{name} on {data.dtype}",
                    float32_norm=data.dtype == np.float32 and uses_float32_row_norm(model))


@pytest.mark.parametrize("name", [n for n in TRANSFORMERS if not n.startswith("SimpleImputer")])
def test_float32_transform_exact(name, dataset, roundtrip, float32_row_norm):
    uses_float32_row_norm, rtol, atol = float32_row_norm
    # float32 in, float32 out, bit-for-bit what scikit-learn computes in place with numpy.
    X, _ = dataset("wine")
    Xf = X.astype(np.float32)
    for fit_on in (X, Xf):
        model = TRANSFORMERS[name]().fit(fit_on)
        proxy = roundtrip(model)
        for data in (Xf, Xf[:1], Xf[100:101]):
            expected = model.transform(data)
            got = proxy.transform(data)
            assert expected.dtype == np.float32
            assert got.dtype == np.float32
            if uses_float32_row_norm(model):  # see FLOAT32_NORM_RTOL in conftest.py
                np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
                continue
            np.testing.assert_array_equal(got, expected, err_msg=f"{name} fit on {fit_on.dtype}")


def test_standard_scaler_float32_exact(dataset, roundtrip):
    # The acceptance case spelled out: StandardScaler fitted on float64, float32 data in.
    X, _ = dataset("breast_cancer")
    model = StandardScaler().fit(X)
    proxy = roundtrip(model)
    Xf = X.astype(np.float32)
    got = proxy.transform(Xf)
    expected = model.transform(Xf)
    assert got.dtype == expected.dtype == np.float32
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("name", ["StandardScaler", "MinMaxScaler(clip)", "MaxAbsScaler",
                                  "RobustScaler"])
def test_scalers_let_nan_through(name, dataset, roundtrip, assert_same):
    # scikit-learn's scalers accept NaN (ensure_all_finite="allow-nan") and keep it in place,
    # at fit and at transform.
    X, _ = dataset("iris")
    Xn = _with_holes(X)
    model = TRANSFORMERS[name]().fit(Xn)
    proxy = roundtrip(model)
    expected = model.transform(Xn)
    got = proxy.transform(Xn)
    assert np.isnan(got).sum() == np.isnan(Xn).sum()
    assert_same(expected, got)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(Xn))
    inf = X[:3].copy()
    inf[1, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.transform(inf)
    with pytest.raises(mle.InputError, match="infinity"):
        proxy.transform(inf)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_normalizer_refuses_nan(norm, dataset, roundtrip):
    X, _ = dataset("iris")
    model = Normalizer(norm=norm).fit(X)
    proxy = roundtrip(model)
    bad = X[:4].copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.transform(bad)
    with pytest.raises(mle.InputError, match="NaN"):
        proxy.transform(bad)


# ---------------------------------------------------------------- SimpleImputer

IMPUTER_STRATEGIES = [
    dict(strategy="mean"),
    dict(strategy="median"),
    dict(strategy="most_frequent"),
    dict(strategy="constant"),
    dict(strategy="constant", fill_value=-7.5),
]
IMPUTER_IDS = ["mean", "median", "most_frequent", "constant", "constant=-7.5"]


@pytest.mark.parametrize("keep_empty", [False, True], ids=["drop-empty", "keep-empty"])
@pytest.mark.parametrize("kwargs", IMPUTER_STRATEGIES, ids=IMPUTER_IDS)
@pytest.mark.parametrize("data", ["iris", "diabetes", "regression"])
def test_imputer_nan(kwargs, keep_empty, data, dataset, roundtrip, assert_parity):
    X, _ = dataset(data)
    X = np.round(X, 1)  # repeated values make most_frequent meaningful
    Xn = _with_holes(X, frac=0.15)
    Xn[:, 1] = np.nan  # a column that is all-missing at fit
    model = SimpleImputer(keep_empty_features=keep_empty, **kwargs).fit(Xn)
    proxy = roundtrip(model)
    expected = model.transform(Xn)
    # scikit-learn drops the all-missing column unless keep_empty_features=True
    assert expected.shape[1] == X.shape[1] - (0 if keep_empty else 1)
    assert proxy.transform(Xn).shape == expected.shape
    assert not np.isnan(proxy.transform(Xn)).any()
    assert_parity(model, proxy, Xn, variants=False)
    other = _with_holes(X, seed=9, frac=0.3)
    for data_in in (other, other.astype(np.float32), other[:1], other[7:8]):
        assert_parity(model, proxy, data_in, variants=False)
    assert_parity(model, proxy, X)  # no holes: every input variant


@pytest.mark.parametrize("keep_empty", [False, True], ids=["drop-empty", "keep-empty"])
@pytest.mark.parametrize("kwargs", IMPUTER_STRATEGIES, ids=IMPUTER_IDS)
def test_imputer_custom_missing_value(kwargs, keep_empty, dataset, roundtrip, assert_parity):
    X, _ = dataset("iris")
    Xm = X.copy()
    rng = np.random.RandomState(1)
    Xm[rng.rand(*X.shape) < 0.2] = -1
    Xm[:, 3] = -1  # all-missing at fit
    model = SimpleImputer(missing_values=-1, keep_empty_features=keep_empty, **kwargs).fit(Xm)
    proxy = roundtrip(model)
    assert proxy.transform(Xm).shape[1] == X.shape[1] - (0 if keep_empty else 1)
    assert_parity(model, proxy, Xm)
    # NaN is data, not a missing marker, here: scikit-learn refuses it and so does the proxy.
    bad = Xm[:3].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.transform(bad)
    with pytest.raises(mle.InputError, match="NaN"):
        proxy.transform(bad)


@pytest.mark.parametrize("kwargs", IMPUTER_STRATEGIES[:3], ids=IMPUTER_IDS[:3])
def test_imputer_fitted_on_int_data(kwargs, roundtrip, assert_parity):
    rng = np.random.RandomState(2)
    X = rng.randint(0, 6, size=(120, 4))
    X[rng.rand(*X.shape) < 0.2] = -1
    model = SimpleImputer(missing_values=-1, **kwargs).fit(X)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    assert_parity(model, proxy, X.astype(np.float64), variants=False)


def test_imputer_fitted_on_float32_rounds_statistics(dataset, roundtrip, assert_same):
    # Statistics are cast to the dtype seen at fit before filling, also for float64 input.
    X, _ = dataset("diabetes")
    Xn = _with_holes(X, frac=0.2).astype(np.float32)
    model = SimpleImputer(strategy="mean").fit(Xn)
    proxy = roundtrip(model)
    other = _with_holes(X, seed=3, frac=0.2)
    assert_same(model.transform(other), proxy.transform(other))
    assert_same(model.transform(other.astype(np.float32)),
                proxy.transform(other.astype(np.float32)))


def test_imputer_all_missing_column_warning_matches_drop(dataset, roundtrip):
    X, _ = dataset("iris")
    Xn = X.copy()
    Xn[:, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SimpleImputer().fit(Xn)
        expected = model.transform(Xn)
    proxy = roundtrip(model)
    got = proxy.transform(Xn)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, X[:, [0, 1, 3]])


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
def test_imputer_add_indicator(strategy, dataset, roundtrip):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = dataset("iris")
    Xn = _with_holes(X)
    for model in (SimpleImputer(add_indicator=True, strategy=strategy).fit(Xn),
                  make_pipeline(SimpleImputer(add_indicator=True, strategy=strategy),
                                LogisticRegression(max_iter=1000)).fit(Xn, y)):
        proxy = roundtrip(model)
        method = "predict_proba" if hasattr(model, "predict_proba") else "transform"
        for T in (Xn, Xn[:1], Xn.astype(np.float32)):
            want, got = getattr(model, method)(T), getattr(proxy, method)(T)
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-9)


def test_missing_indicator_and_binarizer(dataset, roundtrip, tmp_path):
    from sklearn.impute import MissingIndicator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import Binarizer

    X, y = dataset("iris")
    Xn = _with_holes(X)
    union = make_pipeline(FeatureUnion([("imp", SimpleImputer()),
                                        ("ind", MissingIndicator(error_on_new=False))]),
                          LogisticRegression(max_iter=1000)).fit(Xn, y)
    binar = make_pipeline(Binarizer(threshold=3.0), LogisticRegression(max_iter=1000)).fit(X, y)
    for model, data in ((union, Xn), (binar, X)):
        proxy = roundtrip(model)
        for T in (data, data[:1], data.astype(np.float32)):
            np.testing.assert_array_equal(proxy.predict(T), model.predict(T))
            np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T), rtol=1e-9)
    edge = np.float32([[0.3, np.nextafter(np.float32(0.3), np.float32(1)), 0.2999, 1.0]])
    b = Binarizer(threshold=0.3).fit(edge)
    np.testing.assert_array_equal(roundtrip(b).transform(edge), b.transform(edge))
    np.testing.assert_array_equal(roundtrip(b).transform(edge.astype(np.float64)),
                                  b.transform(edge.astype(np.float64)))
    with pytest.raises(mle.InputError, match="Binarizer"):
        roundtrip(binar).predict(Xn)
    # error_on_new=True (the default) is checked on the input: tests/exporters/test_sklearn_labels.py
    strict = make_pipeline(MissingIndicator(missing_values=-1.0), LogisticRegression()).fit(
        np.where(np.isnan(Xn), -1.0, Xn), y)
    with pytest.raises(mle.UnsupportedModelError, match="error_on_new"):
        mle.dump(strict, tmp_path / "m.mle")


def test_imputer_on_strings_is_refused(tmp_path):
    X = np.array([["a", "b"], ["a", np.nan], ["c", "b"]], dtype=object)
    model = SimpleImputer(strategy="most_frequent").fit(X)
    with pytest.raises(mle.UnsupportedModelError):
        mle.dump(model, tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_dataframe_input(name, dataset, roundtrip, assert_same):
    import pandas as pd

    X, _ = dataset("wine")
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    model = TRANSFORMERS[name]().fit(df)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    expected = model.transform(df)
    assert_same(expected, proxy.transform(df))
    assert_same(expected, proxy.transform(df[list(df.columns[::-1])]))
    assert_same(model.transform(df.iloc[[4]]), proxy.transform(df.iloc[[4]]))
    with pytest.raises(mle.InputError, match="c7"):
        proxy.transform(df.drop(columns=["c7"]))
