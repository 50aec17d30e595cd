"""Parity of KBinsDiscretizer, PolynomialFeatures and SplineTransformer with their .mle proxies.

The ops compute in scikit-learn's (and scipy's) order of floating-point operations, so
transform is compared for exact equality (same dtype, same bits up to the sign of zero): on
scikit-learn's bundled datasets and seeded synthetic data, on values exactly on bin edges and
knots, beyond the fitted range, on single rows, float32 input and DataFrames; NaN where the
estimator refuses it is refused the same way. Inside Pipeline and ColumnTransformer, feeding
a model, predictions agree within 1e-9 relative (measured: exact).
"""

import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    PolynomialFeatures,
    SplineTransformer,
    StandardScaler,
)

import mle_runtime as mle
from mle_runtime.errors import UnsupportedModelError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

RTOL = 1e-9


def _dense(a):
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a)


def _same(expected, got, what=""):
    """Exactly scikit-learn's values (NaN where it has NaN), with its dtype and shape."""
    expected = _dense(expected)
    assert type(got) is np.ndarray, what
    assert got.shape == expected.shape, f"{what}: {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: {got.dtype} != {expected.dtype}"
    np.testing.assert_array_equal(got, expected, err_msg=what)


def _transform_same(est, proxy, X, what):
    """proxy.transform(X) is scikit-learn's, or both raise ValueError with its message."""
    try:
        expected = est.transform(X)
    except ValueError as e:
        with pytest.raises(ValueError) as info:
            proxy.transform(X)
        assert str(info.value).splitlines()[0] == str(e).splitlines()[0], what
        return
    _same(expected, proxy.transform(X), what)


def _check(est, proxy, X):
    """transform on X, its rows one by one (a few), and float32 X."""
    _transform_same(est, proxy, X, "batch")
    for i in (0, len(X) // 2, len(X) - 1):
        _transform_same(est, proxy, X[i:i + 1], f"row {i}")
    _transform_same(est, proxy, np.asarray(X, dtype=np.float32), "float32")


def _probe_rows(X, values_per_feature):
    """Rows made of the given per-feature values (each feature cycles through its own)."""
    n = max(len(v) for v in values_per_feature)
    rows = np.empty((n, X.shape[1]))
    for f, v in enumerate(values_per_feature):
        rows[:, f] = np.resize(np.asarray(v, dtype=np.float64), n)
    return rows


def _wide(X, seed=0):
    """Test data: X, and a second draw beyond its range (extrapolation, clipping)."""
    rng = np.random.RandomState(seed)
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    beyond = lo + (rng.rand(60, X.shape[1]) * 1.6 - 0.3) * span
    return np.vstack([X, beyond])


# -- KBinsDiscretizer -------------------------------------------------------------------------

def _edge_rows(est, X):
    """Every edge of every feature exactly, its neighbours one ulp away, and values beyond."""
    vals = []
    for e in est.bin_edges_:
        e = np.asarray(e, dtype=np.float64)
        fin = e[np.isfinite(e)]
        vals.append(np.concatenate([fin, np.nextafter(fin, -np.inf), np.nextafter(fin, np.inf),
                                    [-1e30, 1e30, 0.0, -0.0]]))
    return _probe_rows(X, vals)


@pytest.mark.parametrize("encode", ["onehot", "onehot-dense", "ordinal"])
@pytest.mark.parametrize("strategy", ["uniform", "quantile", "kmeans"])
@pytest.mark.parametrize("data", ["iris", "diabetes", "regression"])
def test_kbins_every_encode_and_strategy(dataset, roundtrip, encode, strategy, data):
    X, _ = dataset(data)
    est = KBinsDiscretizer(n_bins=5, encode=encode, strategy=strategy,
                           random_state=0).fit(X)
    proxy = roundtrip(est)
    _check(est, proxy, _wide(X))
    _check(est, proxy, _edge_rows(est, X))


@pytest.mark.parametrize("kwargs", [
    {"strategy": "quantile", "quantile_method": "linear"},
    {"strategy": "quantile", "quantile_method": "inverted_cdf"},
    {"strategy": "quantile", "quantile_method": "closest_observation"},
    {"strategy": "quantile", "subsample": 50, "random_state": 3},
    {"strategy": "uniform", "n_bins": [2, 3, 7, 4]},
    {"strategy": "kmeans", "n_bins": 9},
    {"strategy": "quantile", "n_bins": 40},  # duplicate quantiles: bins removed at fit
    {"dtype": np.float64},
])
def test_kbins_parameters(dataset, roundtrip, kwargs):
    X, _ = dataset("iris")
    est = KBinsDiscretizer(encode="ordinal", **kwargs).fit(X)
    proxy = roundtrip(est)
    _check(est, proxy, _wide(X))
    _check(est, proxy, _edge_rows(est, X))


def test_kbins_sample_weight_and_constant_feature(roundtrip):
    rng = np.random.RandomState(0)
    X = np.c_[rng.randn(200, 2), np.full(200, 3.0)]
    w = rng.rand(200)
    est = KBinsDiscretizer(n_bins=4, encode="onehot-dense", strategy="quantile",
                           quantile_method="averaged_inverted_cdf").fit(X, sample_weight=w)
    assert est.n_bins_[2] == 1
    proxy = roundtrip(est)
    _check(est, proxy, np.vstack([X, rng.randn(30, 3) * 5]))


def test_kbins_float64_dtype_on_float32_input(dataset, roundtrip):
    X, _ = dataset("wine")
    est = KBinsDiscretizer(n_bins=6, encode="onehot", dtype=np.float64).fit(X)
    proxy = roundtrip(est)
    X32 = X.astype(np.float32)
    _same(est.transform(X32), proxy.transform(X32))
    assert proxy.transform(X32).dtype == np.float64


def test_kbins_float32_dtype(dataset, roundtrip):
    """dtype=np.float32 rounds X to float32 before binning, and returns float32."""
    X, _ = dataset("diabetes")
    for encode in ("ordinal", "onehot", "onehot-dense"):
        est = KBinsDiscretizer(n_bins=7, encode=encode, dtype=np.float32).fit(X)
        proxy = roundtrip(est)
        rows = _edge_rows(est, X)
        _check(est, proxy, rows)
        _same(est.transform(X), proxy.transform(X))
        # a float64 value beyond float32's range becomes infinity there, which is refused
        big = X[:2].copy()
        big[1, 0] = 1e39
        with pytest.raises(ValueError, match="infinity"):
            est.transform(big)
        with pytest.raises(ValueError, match="infinity"):
            proxy.transform(big)
    pipe = make_pipeline(StandardScaler(), KBinsDiscretizer(n_bins=4, dtype=np.float32)).fit(X)
    _same(pipe.transform(X), roundtrip(pipe).transform(X), "last step of a pipeline")
    before = make_pipeline(KBinsDiscretizer(n_bins=4, encode="ordinal", dtype=np.float32),
                           StandardScaler())
    with pytest.raises(UnsupportedModelError, match="float32"):
        mle.dump(before.fit(X), "/dev/null")


def test_kbins_refuses_nan_as_scikit_learn(dataset, roundtrip):
    X, _ = dataset("iris")
    est = KBinsDiscretizer(n_bins=3).fit(X)
    proxy = roundtrip(est)
    bad = X[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.transform(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.transform(bad)


def test_kbins_dataframe_input(dataset, roundtrip):
    pd = pytest.importorskip("pandas")
    X, _ = dataset("iris")
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = KBinsDiscretizer(n_bins=4, encode="ordinal").fit(df)
    proxy = roundtrip(est)
    _same(est.transform(df), proxy.transform(df))
    _same(est.transform(df[["a", "b", "c", "d"]].iloc[3:4]), proxy.transform(df.iloc[3:4]))


# -- PolynomialFeatures -----------------------------------------------------------------------

@pytest.mark.parametrize("degree", [0, 1, 2, 3, 4, (2, 3), (0, 2), (3, 3)])
@pytest.mark.parametrize("interaction_only", [False, True])
@pytest.mark.parametrize("include_bias", [True, False])
def test_polynomial_features(dataset, roundtrip, degree, interaction_only, include_bias):
    X, _ = dataset("iris")
    if degree == 0 and not include_bias:  # scikit-learn refuses an empty output
        with pytest.raises(ValueError):
            PolynomialFeatures(degree=degree, include_bias=False,
                               interaction_only=interaction_only).fit(X)
        return
    est = PolynomialFeatures(degree=degree, interaction_only=interaction_only,
                             include_bias=include_bias).fit(X)
    proxy = roundtrip(est)
    _check(est, proxy, _wide(X))


def test_polynomial_features_order_and_many_features(dataset, roundtrip):
    X, _ = dataset("regression")  # 10 features
    for order in ("C", "F"):
        est = PolynomialFeatures(degree=3, order=order).fit(X)
        proxy = roundtrip(est)
        _check(est, proxy, X * 7.5)


def test_polynomial_features_special_values(roundtrip):
    """Infinity is refused as scikit-learn refuses it; NaN too; signed zeros and huge values
    overflow exactly as scikit-learn's products."""
    rng = np.random.RandomState(1)
    X = rng.randn(40, 3)
    est = PolynomialFeatures(degree=3).fit(X)
    proxy = roundtrip(est)
    odd = np.array([[-0.0, 1e200, -1e-200], [1e155, -1e155, 3.0], [0.0, -0.0, -0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _same(est.transform(odd), proxy.transform(odd))
    for v in (np.nan, np.inf):
        bad = X[:2].copy()
        bad[0, 1] = v
        with pytest.raises(ValueError):
            est.transform(bad)
        with pytest.raises(ValueError):
            proxy.transform(bad)


def test_polynomial_features_dataframe(dataset, roundtrip):
    pd = pytest.importorskip("pandas")
    X, _ = dataset("wine")
    df = pd.DataFrame(X[:, :5], columns=[f"f{i}" for i in range(5)])
    est = PolynomialFeatures(degree=2, interaction_only=True).fit(df)
    proxy = roundtrip(est)
    _same(est.transform(df), proxy.transform(df))


# -- SplineTransformer ------------------------------------------------------------------------

EXTRAPOLATIONS = ["error", "constant", "linear", "continue", "periodic"]


def _knot_rows(est, X):
    """Every knot of every feature, one ulp either side, and values far beyond."""
    vals = []
    for s in est.bsplines_:
        t = np.asarray(s.t)
        vals.append(np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf),
                                    [t[0] - 1e3, t[-1] + 1e3, 0.0]]))
    return _probe_rows(X, vals)


def _in_range(est, X):
    """The rows of X inside every feature's knot range (for extrapolation="error")."""
    keep = np.ones(len(X), dtype=bool)
    for f, s in enumerate(est.bsplines_):
        keep &= (X[:, f] >= s.t[s.k]) & (X[:, f] <= s.t[len(s.t) - s.k - 1])
    return X[keep]


@pytest.mark.parametrize("extrapolation", EXTRAPOLATIONS)
@pytest.mark.parametrize("degree", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("knots", ["uniform", "quantile"])
@pytest.mark.parametrize("include_bias", [True, False])
def test_spline_transformer(dataset, roundtrip, extrapolation, degree, knots, include_bias):
    X, _ = dataset("diabetes")
    X = X[:, :4]
    n_knots = 7 if extrapolation == "periodic" else 5
    est = SplineTransformer(n_knots=n_knots, degree=degree, knots=knots,
                            extrapolation=extrapolation, include_bias=include_bias).fit(X)
    if degree == 0 and extrapolation == "constant":  # see test_spline_refusals
        with pytest.raises(mle.UnsupportedModelError, match="SplineTransformer"):
            roundtrip(est)
        return
    proxy = roundtrip(est)
    for rows in (_wide(X), _knot_rows(est, X)):
        if extrapolation == "error":
            rows = _in_range(est, rows)
        _check(est, proxy, rows)


@pytest.mark.parametrize("extrapolation", EXTRAPOLATIONS)
def test_spline_array_knots_and_orders(roundtrip, extrapolation):
    rng = np.random.RandomState(4)
    X = rng.rand(120, 3) * 10 - 3
    knots = np.array([[-3.0, -4.0, 0.0], [-1.0, -1.5, 0.5], [0.5, 2.0, 1.0],
                      [4.0, 2.5, 3.0], [7.0, 6.0, 9.0]])
    for order in ("C", "F"):
        est = SplineTransformer(knots=knots, degree=2, extrapolation=extrapolation,
                                order=order).fit(X)
        proxy = roundtrip(est)
        rows = np.vstack([X, rng.rand(40, 3) * 30 - 12, knots])
        if extrapolation == "error":
            rows = _in_range(est, rows)
        _check(est, proxy, rows)


@pytest.mark.parametrize("extrapolation", EXTRAPOLATIONS)
def test_spline_repeated_quantile_knots(roundtrip, extrapolation):
    """Quantile knots of a discrete feature repeat (zero-width knot intervals)."""
    rng = np.random.RandomState(0)
    X = np.c_[rng.randint(0, 3, 300).astype(float), rng.randn(300)]
    for degree in (1, 2, 3):
        est = SplineTransformer(n_knots=7, degree=degree, knots="quantile",
                                extrapolation=extrapolation).fit(X)
        assert np.any(np.diff(est.bsplines_[0].t) == 0)
        proxy = roundtrip(est)
        rows = np.r_[X, np.c_[np.linspace(-1, 4, 51), np.linspace(-3, 3, 51)]]
        if extrapolation == "error":
            rows = _in_range(est, rows)
        _check(est, proxy, rows)


def test_spline_error_extrapolation_refuses_as_scikit_learn(dataset, roundtrip):
    X, _ = dataset("iris")
    est = SplineTransformer(extrapolation="error").fit(X)
    proxy = roundtrip(est)
    out = X[:4].copy()
    out[2, 3] = X[:, 3].max() + 1.0
    for model in (est, proxy):
        with pytest.raises(ValueError, match="beyond the limits of the knots"):
            model.transform(out)


def test_spline_handle_missing(dataset, roundtrip):
    X, _ = dataset("wine")
    X = X[:, :5].copy()
    rng = np.random.RandomState(2)
    holes = X.copy()
    holes[rng.rand(*X.shape) < 0.15] = np.nan
    for extrapolation in EXTRAPOLATIONS:
        est = SplineTransformer(handle_missing="zeros", extrapolation=extrapolation,
                                n_knots=6).fit(holes)
        proxy = roundtrip(est)
        rows = holes if extrapolation == "error" else np.vstack([holes, _wide(X)])
        _check(est, proxy, rows)
        if extrapolation != "error":
            inf = holes[:3].copy()
            inf[0, 0], inf[1, 1] = np.inf, -np.inf
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                _same(est.transform(inf), proxy.transform(inf), f"{extrapolation} inf")
    strict = SplineTransformer().fit(X)
    proxy = roundtrip(strict)
    for model in (strict, proxy):
        with pytest.raises(ValueError, match="NaN"):
            model.transform(holes[:20])


def test_spline_handle_missing_before_a_model(dataset, roundtrip):
    """NaN becomes zeros: a model after the spline never sees it, so NaN is accepted."""
    X, y = dataset("diabetes")
    holes = X.copy()
    holes[np.random.RandomState(5).rand(*X.shape) < 0.1] = np.nan
    model = make_pipeline(SplineTransformer(handle_missing="zeros"), Ridge()).fit(holes, y)
    proxy = roundtrip(model)
    _close(model.predict(holes), proxy.predict(holes))
    ct = ColumnTransformer([("s", SplineTransformer(handle_missing="zeros"), [0, 1]),
                            ("k", KBinsDiscretizer(n_bins=3, encode="ordinal"), [2, 3])])
    model = make_pipeline(ct, Ridge()).fit(np.c_[holes[:, :2], X[:, 2:4]], y)
    proxy = roundtrip(model)
    ok = np.c_[holes[:, :2], X[:, 2:4]]
    _close(model.predict(ok), proxy.predict(ok))
    bad = ok.copy()
    bad[3, 2] = np.nan  # a KBinsDiscretizer column: refused by both
    for m in (model, proxy):
        with pytest.raises(ValueError, match="NaN"):
            m.predict(bad)


def test_spline_sparse_output_is_dense(dataset, roundtrip):
    X, _ = dataset("iris")
    for extrapolation in ("constant", "linear", "continue", "periodic"):
        est = SplineTransformer(sparse_output=True, extrapolation=extrapolation).fit(X)
        proxy = roundtrip(est)
        _check(est, proxy, _wide(X))
    # extrapolation="error": the same values, and the same inputs refused (scikit-learn's
    # sparse path raises scipy's "Out of bounds" message instead of its own)
    est = SplineTransformer(sparse_output=True, extrapolation="error").fit(X)
    proxy = roundtrip(est)
    _same(est.transform(X), proxy.transform(X))
    beyond = X[:5] + 100.0
    with pytest.raises(ValueError, match="Out of bounds"):
        est.transform(beyond)
    with pytest.raises(ValueError, match="beyond the limits of the knots"):
        proxy.transform(beyond)


def test_spline_dataframe(dataset, roundtrip):
    pd = pytest.importorskip("pandas")
    X, _ = dataset("iris")
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = SplineTransformer(n_knots=4, extrapolation="linear").fit(df)
    proxy = roundtrip(est)
    _same(est.transform(df), proxy.transform(df))


def test_spline_refusals(dataset):
    X, _ = dataset("iris")
    est = SplineTransformer(degree=0, extrapolation="constant").fit(X)
    with pytest.raises(UnsupportedModelError, match="degree=0"):
        mle.dump(est, "/dev/null")


# -- inside pipelines, feeding models ---------------------------------------------------------

def _close(expected, got):
    expected = np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    else:
        np.testing.assert_array_equal(got, expected)


def test_pipelines_feeding_models(dataset, roundtrip):
    X, y = dataset("diabetes")
    models = [
        make_pipeline(SplineTransformer(n_knots=6, extrapolation="linear"), Ridge(alpha=0.1)),
        make_pipeline(StandardScaler(), PolynomialFeatures(degree=2), LinearRegression()),
        make_pipeline(KBinsDiscretizer(n_bins=6, encode="onehot"), Ridge()),
        make_pipeline(SplineTransformer(extrapolation="periodic"), PolynomialFeatures(2),
                      Ridge()),
    ]
    test = _wide(X)
    for model in models:
        model.fit(X, y)
        proxy = roundtrip(model)
        _close(model.predict(test), proxy.predict(test))
        _close(model.predict(test[5:6]), proxy.predict(test[5:6]))
        t32 = test.astype(np.float32)
        _close(model.predict(t32), proxy.predict(t32))


def test_column_transformer(dataset, roundtrip):
    X, y = dataset("breast_cancer")
    ct = ColumnTransformer([
        ("bins", KBinsDiscretizer(n_bins=4, encode="onehot"), [0, 1, 2]),
        ("ordinal", KBinsDiscretizer(n_bins=3, encode="ordinal", strategy="uniform"), [3]),
        ("poly", PolynomialFeatures(degree=2, include_bias=False), [4, 5, 6]),
        ("spline", SplineTransformer(n_knots=4, extrapolation="constant"), [7, 8]),
    ], remainder="passthrough")
    model = make_pipeline(ct, StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, y)
    proxy = roundtrip(model)
    _close(model.predict(X), proxy.predict(X))
    _close(model.predict_proba(X), proxy.predict_proba(X))
    ct.fit(X)
    _same(ct.transform(X), roundtrip(ct).transform(X), "ColumnTransformer.transform")


def test_kbins_binning_rule_is_checked_at_dump(dataset, monkeypatch):
    """A transform that bins by another rule (a tolerance added to X, as old releases did) is
    refused at dump rather than stored with the wrong bins."""
    X, _ = dataset("iris")
    est = KBinsDiscretizer(n_bins=4, encode="ordinal").fit(X)
    real = KBinsDiscretizer.transform

    def tolerant(self, X):
        return real(self, np.asarray(X, dtype=np.float64) * (1 + 1e-5) + 1e-8)

    monkeypatch.setattr(KBinsDiscretizer, "transform", tolerant)
    with pytest.raises(UnsupportedModelError, match="bins values at the bin edges"):
        mle.dump(est, "/dev/null")
