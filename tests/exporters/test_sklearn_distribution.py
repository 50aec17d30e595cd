"""Parity of QuantileTransformer, PowerTransformer and FunctionTransformer (numpy functions)
with their .mle proxies: alone, inside Pipeline and ColumnTransformer and feeding a model,
against scikit-learn's own output on bundled and seeded data.

Tolerances: float64 outputs within 1e-12 relative (measured: 0 for the uniform quantile
output, Box-Cox, sqrt/abs/sign/sin; below 7e-16 for the normal quantile output, Yeo-Johnson
and the transcendental numpy functions, where numpy's SIMD functions and scipy's ndtri round
differently from the C library's and ours). float32 outputs: bit for bit for the quantile
transforms; within float32 rounding (a few ulps, carried through the standardisation) where
numpy computes transcendental functions in float32."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (FunctionTransformer, PowerTransformer, QuantileTransformer,
                                   StandardScaler)

import mle_runtime as mle

RTOL = 1e-12
F32_RTOL = 2e-6


def _rel(expected, got):
    ok = ~np.isnan(expected)
    scale = np.maximum(np.abs(expected[ok]), 1e-300)
    return float(np.max(np.abs(expected[ok] - got[ok]) / scale, initial=0.0))


def same(expected, got, f32_exact=False, f32_atol=0.0):
    expected = np.asarray(expected)
    assert type(got) is np.ndarray and got.shape == expected.shape
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    if expected.dtype == np.float32:
        if f32_exact:
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=F32_RTOL, atol=f32_atol)
    else:
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    return _rel(expected, got)


def _data():
    X = load_diabetes().data.copy()
    rng = np.random.RandomState(0)
    X[:, 1] = np.round(X[:, 1] * 20)  # a discrete column: repeated quantiles
    Xn = X.copy()
    Xn[rng.rand(*X.shape) < 0.08] = np.nan
    return X, Xn


def _quantile_probe(model, X):
    q = model.quantiles_
    lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    return np.concatenate([X, q, q + 1e-7, q - 1e-7, q + 2e-7, np.nextafter(q, np.inf),
                           np.nextafter(q, -np.inf), (q[1:] + q[:-1]) / 2,
                           [lo - 1, hi + 1, lo - 1e-300, 3 * hi]])


def _variants(Z, columns):
    n = Z.shape[0]
    yield Z
    yield Z[:1]
    yield Z[n // 2:n // 2 + 1]
    yield Z[::3]
    yield pd.DataFrame(Z, columns=columns)


@pytest.mark.parametrize("dist", ["uniform", "normal"])
@pytest.mark.parametrize("n_quantiles", [1, 2, 7, 100, 1000])
def test_quantile_transformer(dist, n_quantiles, roundtrip):
    X, Xn = _data()
    cols = [f"f{i}" for i in range(X.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_quantiles > n_samples
        model = QuantileTransformer(n_quantiles=n_quantiles, output_distribution=dist,
                                    subsample=10_000).fit(pd.DataFrame(Xn, columns=cols))
    proxy = roundtrip(model)
    Z = _quantile_probe(model, Xn)
    worst = 0.0
    for data in _variants(Z, cols):
        expected = model.transform(data)
        worst = max(worst, same(expected, proxy.transform(data)))
    for dtype_data in (Z.astype(np.float32), Z[:1].astype(np.float32)):
        expected = model.transform(pd.DataFrame(dtype_data, columns=cols))
        same(expected, proxy.transform(pd.DataFrame(dtype_data, columns=cols)), f32_exact=True)
    assert worst < 2e-15
    np.testing.assert_array_equal(proxy.quantiles_, model.quantiles_)


def test_quantile_transformer_fitted_on_float32(roundtrip):
    X, Xn = _data()
    for dist in ("uniform", "normal"):
        model = QuantileTransformer(n_quantiles=50, output_distribution=dist).fit(
            Xn.astype(np.float32))
        proxy = roundtrip(model)
        Z = _quantile_probe(model, Xn)
        same(model.transform(Z), proxy.transform(Z))
        same(model.transform(Z.astype(np.float32)), proxy.transform(Z.astype(np.float32)),
             f32_exact=True)


def test_quantile_transformer_in_pipelines(roundtrip):
    wine = load_wine()
    X, y = wine.data, wine.target
    for dist in ("uniform", "normal"):
        pipe = make_pipeline(QuantileTransformer(n_quantiles=60, output_distribution=dist),
                             LogisticRegression(max_iter=2000)).fit(X, y)
        proxy = roundtrip(pipe)
        np.testing.assert_array_equal(proxy.predict(X), pipe.predict(X))
        same(pipe.predict_proba(X), proxy.predict_proba(X))
        same(pipe.predict_proba(X[5:6]), proxy.predict_proba(X[5:6]))
        ct = ColumnTransformer([("q", QuantileTransformer(n_quantiles=30,
                                                         output_distribution=dist), [0, 2, 5]),
                                ("s", StandardScaler(), [1, 3])], remainder="passthrough")
        ct.fit(X)
        same(ct.transform(X), roundtrip(ct).transform(X))


def test_quantile_transformer_refusals(roundtrip, tmp_path):
    X, Xn = _data()
    model = QuantileTransformer(n_quantiles=20).fit(Xn)
    proxy = roundtrip(model)
    bad = X[:3].copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError):
        model.transform(bad)
    with pytest.raises(ValueError):
        proxy.transform(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sparse_only = QuantileTransformer(n_quantiles=20, ignore_implicit_zeros=True).fit(X)
    with pytest.raises(mle.UnsupportedModelError, match="ignore_implicit_zeros"):
        mle.dump(sparse_only, tmp_path / "m.mle")


def _signed_data():
    rng = np.random.RandomState(3)
    X = np.column_stack([rng.lognormal(size=300), rng.normal(size=300) * 4 - 1,
                         rng.exponential(size=300) - 0.3, np.full(300, 2.5),
                         rng.gamma(2.0, size=300) * 100])
    return X


@pytest.mark.parametrize("standardize", [True, False])
def test_power_transformer_yeo_johnson(standardize, roundtrip):
    X = _signed_data()
    Xn = X.copy()
    Xn[np.random.RandomState(1).rand(*X.shape) < 0.05] = np.nan
    Xn[:, 3] = X[:, 3]
    model = PowerTransformer(standardize=standardize).fit(Xn)
    assert model.lambdas_[3] == 1.0  # the constant column, kept as it is
    proxy = roundtrip(model)
    Z = np.concatenate([Xn, -Xn, Xn * 10, np.zeros((1, 5)), np.full((1, 5), -0.0)])
    worst = 0.0
    for data in _variants(Z, None):
        worst = max(worst, same(model.transform(data), proxy.transform(data)))
    assert worst < 1e-13
    Zf = np.concatenate([Xn, -Xn]).astype(np.float32)
    scale = np.nanmax(np.abs(model.transform(Zf)))
    same(model.transform(Zf), proxy.transform(Zf), f32_atol=4e-7 * scale)


def test_power_transformer_lambda_branches(roundtrip):
    """lambda at and near 0 and 2 (the tolerance of each branch), set on a fitted model."""
    X = _signed_data()[:, :2]
    Z = np.concatenate([X, -X, [[0.0, -0.0]]])
    worst = 0.0
    for pair in ([0.0, 2.0], [1e-17, 2 + 1e-16], [3e-16, 2 - 5e-16], [-2.5, 4.0], [0.5, 1.0],
                 [2.0, 0.0]):
        model = PowerTransformer(standardize=False).fit(X)
        model.lambdas_ = np.array(pair)
        worst = max(worst, same(model.transform(Z), roundtrip(model).transform(Z)))
    assert worst < 1e-13


@pytest.mark.parametrize("standardize", [True, False])
def test_power_transformer_box_cox(standardize, roundtrip):
    X = np.delete(np.abs(_signed_data()) + 0.05, 3, axis=1)  # Box-Cox: no constant column
    Xn = X.copy()
    Xn[np.random.RandomState(2).rand(*X.shape) < 0.05] = np.nan
    model = PowerTransformer(method="box-cox", standardize=standardize).fit(Xn)
    proxy = roundtrip(model)
    Z = np.concatenate([Xn, Xn * 50, Xn / 50])
    worst = 0.0
    for data in _variants(Z, None):
        worst = max(worst, same(model.transform(data), proxy.transform(data)))
    assert worst < 1e-13
    Zf = Z.astype(np.float32)
    same(model.transform(Zf), proxy.transform(Zf), f32_atol=4e-7 * np.nanmax(np.abs(
        model.transform(Zf))))
    for bad_value in (0.0, -1.0):
        bad = Z[:4].copy()
        bad[2, 1] = bad_value
        with pytest.raises(ValueError, match="strictly positive"):
            model.transform(bad)
        with pytest.raises(mle.InputError, match="strictly positive"):
            proxy.transform(bad)


def test_power_transformer_in_pipelines(roundtrip):
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(PowerTransformer(), Ridge()).fit(X, y)
    proxy = roundtrip(pipe)
    same(pipe.predict(X), proxy.predict(X))
    same(pipe.predict(X[:1]), proxy.predict(X[:1]))
    ct = ColumnTransformer([("p", PowerTransformer(standardize=False), [0, 1, 4]),
                            ("b", PowerTransformer(method="box-cox"), [7])])
    Xp = X.copy()
    Xp[:, 7] = np.abs(Xp[:, 7]) + 0.01
    ct.fit(Xp)
    same(ct.transform(Xp), roundtrip(ct).transform(Xp))


FUNCS = [np.log1p, np.expm1, np.log, np.exp, np.sqrt, np.abs, np.square, np.log2, np.log10,
         np.exp2, np.cbrt, np.sin, np.cos, np.tanh, np.sinh, np.cosh, np.arcsinh, np.arctan,
         np.negative, np.reciprocal, np.sign, np.fabs]


@pytest.mark.parametrize("validate", [False, True])
@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_function_transformer(func, validate, roundtrip):
    X = np.abs(load_diabetes().data) * 10 + 0.01
    model = FunctionTransformer(func, validate=validate).fit(X)
    proxy = roundtrip(model)
    worst = 0.0
    with np.errstate(all="ignore"):
        for data in (X, X[:1], X[::7]):
            worst = max(worst, same(model.transform(data), proxy.transform(data)))
        same(np.asarray(model.transform(X.astype(np.float32))),
             proxy.transform(X.astype(np.float32)))
        Xn = X.copy()
        Xn[3, 2] = np.nan
        if validate:
            with pytest.raises(ValueError):
                model.transform(Xn)
            with pytest.raises(ValueError):
                proxy.transform(Xn)
        else:
            same(model.transform(Xn), proxy.transform(Xn))
            Xi = X.copy()
            Xi[1, 1] = np.inf
            same(model.transform(Xi), proxy.transform(Xi))
    assert worst < 1e-15


def test_function_transformer_in_pipelines(roundtrip):
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(FunctionTransformer(np.arcsinh), StandardScaler(), Ridge()).fit(X, y)
    same(pipe.predict(X), roundtrip(pipe).predict(X))
    ct = ColumnTransformer([("log", FunctionTransformer(np.log1p), [0, 1]),
                            ("sq", FunctionTransformer(np.square, validate=True), [2, 3])],
                           remainder="passthrough").fit(np.abs(X))
    same(ct.transform(np.abs(X)), roundtrip(ct).transform(np.abs(X)))


def test_function_transformer_refusals(tmp_path):
    X = np.abs(load_diabetes().data)
    for model, fragment in (
            (FunctionTransformer(lambda z: z + 1), "<lambda>"),
            (FunctionTransformer(np.add.reduce), "reduce"),
            (FunctionTransformer(np.power, kw_args={"x2": 2}), "kw_args"),
            (FunctionTransformer(np.log1p, kw_args={"out": None}), "kw_args")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
        with pytest.raises(mle.UnsupportedModelError, match=fragment):
            mle.dump(model, tmp_path / "m.mle")
    with pytest.raises(mle.UnsupportedModelError, match=r"func=rint\) is not supported"):
        mle.dump(FunctionTransformer(np.rint).fit(X), tmp_path / "m.mle")


@pytest.mark.parametrize("func, inverse", [(np.arcsinh, np.sinh), (np.log2, np.exp2),
                                           (np.negative, np.negative),
                                           (np.reciprocal, np.reciprocal), (np.sqrt, np.square)])
def test_transformed_target_regressor(func, inverse, roundtrip, tmp_path):
    X, y = load_diabetes(return_X_y=True)
    model = TransformedTargetRegressor(Ridge(), func=func, inverse_func=inverse,
                                       check_inverse=False).fit(X, y)
    proxy = roundtrip(model)
    same(model.predict(X), proxy.predict(X))
    same(model.predict(X[:1]), proxy.predict(X[:1]))


def test_transformed_target_regressor_refuses_other_functions(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    model = TransformedTargetRegressor(Ridge(), func=np.rint, inverse_func=np.rint,
                                       check_inverse=False).fit(X, y)
    with pytest.raises(mle.UnsupportedModelError, match="inverse_func 'rint' is not supported"):
        mle.dump(model, tmp_path / "m.mle")


def test_quantile_transformer_normal_tails(roundtrip):
    """Wide gaps between quantiles put values just past the bounds' threshold far in the
    normal tails: probabilities below 1e-7 give the clip, those just above it the inverse
    normal CDF near the clip."""
    rng = np.random.RandomState(5)
    X = np.column_stack([np.r_[0.0, rng.uniform(1e12, 2e12, 99)],
                         np.r_[rng.uniform(-2e15, -1e15, 99), 1.0]])
    model = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)
    q = model.quantiles_
    steps = np.array([1.01e-7, 2e-7, 1e-6, 1e-3, 1.0, 1e3, 1e5, 2e5, 1e6, 1e7])
    Z = np.concatenate([q[:1] + steps[:, None] * [1, 1], q[-1:] - steps[:, None] * [1, 1], X])
    expected = model.transform(Z)
    a = np.abs(expected)
    bound = 1e-7 - np.spacing(1)
    assert -stats.norm.ppf(bound) in a and stats.norm.ppf(1 - bound) in a  # the clips
    assert np.any((a > 3) & (a < a.max()))
    worst = same(expected, roundtrip(model).transform(Z))
    assert worst < 2e-15
