"""Parity of AdditiveChi2Sampler and PolynomialCountSketch (transform, alone and in
Pipelines) with their .mle proxies, on scikit-learn's datasets and seeded synthetic data:
batches, single rows, int and list input, DataFrames, float32 and float64; NaN and negative
entries refused as scikit-learn refuses them.

Tolerances (measured): AdditiveChi2Sampler on float64 within 1e-9 relative (measured
3.4e-16: numpy's log, cos and sin against the C library's); on float32 input scikit-learn
computes in float32 with numpy's float32 log, cos and sin, which are not correctly rounded:
within 2e-5 relative and 1e-6 absolute (measured 8.5e-6 relative). PolynomialCountSketch:
scikit-learn's FFT product rounds differently from the direct circular convolution computed
here, so entries agree within 1e-9 relative plus 1e-12 times the batch's largest entry
(measured: 5e-16 times it); entries that are exactly zero here can be 1e-17 there."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.kernel_approximation import AdditiveChi2Sampler, PolynomialCountSketch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import mle_runtime as mle
from mle_runtime import InputError

RTOL, ATOL = 1e-9, 1e-12


def roundtrip(est, tmp_path):
    path = tmp_path / "m.mle"
    mle.dump(est, path)
    return mle.load(path)


def chi2_close(got, expected, what=""):
    got = np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    if expected.dtype == np.float32:
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def sketch_close(got, expected, what=""):
    got = np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-12 * scale, err_msg=what)


def variants(X):
    out = [("batch", X), ("int", np.round(X)), ("list", X[:5].tolist()),
           ("fortran", np.asfortranarray(X)), ("float32", X.astype(np.float32)),
           ("float32 row", X[:1].astype(np.float32)),
           ("frame", pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])]))]
    out += [(f"row {i}", X[i:i + 1]) for i in range(0, len(X), max(1, len(X) // 10))]
    return out


def _positive():
    rng = np.random.default_rng(0)
    X = np.abs(rng.normal(size=(200, 6))) * rng.choice([1e-3, 1.0, 50.0], size=(200, 6))
    X[rng.random(X.shape) < 0.2] = 0.0
    return X


DATASETS = {"iris": lambda: load_iris().data, "digits": lambda: load_digits().data,
            "positive": _positive}


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("params", [{}, {"sample_steps": 1}, {"sample_steps": 3},
                                    {"sample_steps": 4, "sample_interval": 0.25},
                                    {"sample_steps": 2, "sample_interval": 1.7}])
def test_additive_chi2(data, params, tmp_path):
    X = DATASETS[data]()
    est = AdditiveChi2Sampler(**params).fit(X)
    m = roundtrip(est, tmp_path)
    for what, x in variants(X):
        chi2_close(m.transform(x), est.transform(x), what)


def test_additive_chi2_refuses(tmp_path):
    X = load_iris().data
    est = AdditiveChi2Sampler().fit(X)
    m = roundtrip(est, tmp_path)
    bad = X[:3].copy()
    bad[1, 2] = -0.5
    with pytest.raises(ValueError, match="Negative values"):
        est.transform(bad)
    with pytest.raises(InputError, match="Negative values in data passed to X in "
                                         "AdditiveChi2Sampler"):
        m.transform(bad)
    bad[1, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        m.transform(bad)
    with pytest.raises(InputError):
        m.transform(X[:, :3])
    chi2_close(m.transform(np.array([[-0.0, 0.0, 1.0, 2.0]])),
               est.transform(np.array([[-0.0, 0.0, 1.0, 2.0]])))


def test_additive_chi2_pipeline(tmp_path):
    data = load_breast_cancer()
    X, y = data.data, data.target
    pipe = make_pipeline(MinMaxScaler(), AdditiveChi2Sampler(sample_steps=2),
                         LogisticRegression(max_iter=2000)).fit(X, y)
    m = roundtrip(pipe, tmp_path)
    np.testing.assert_array_equal(m.predict(X), pipe.predict(X))
    np.testing.assert_allclose(m.predict_proba(X), pipe.predict_proba(X), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("params", [{}, {"degree": 1}, {"degree": 3, "n_components": 50},
                                    {"degree": 2, "gamma": 0.3, "coef0": 2.0},
                                    {"degree": 4, "n_components": 7, "coef0": 0.5},
                                    {"n_components": 257, "gamma": 2.0}])
@pytest.mark.parametrize("data", ["iris", "diabetes", "synthetic"])
def test_polynomial_count_sketch(params, data, tmp_path):
    X = {"iris": lambda: load_iris().data, "diabetes": lambda: load_diabetes().data,
         "synthetic": lambda: np.random.default_rng(1).normal(size=(150, 9)) * 3}[data]()
    est = PolynomialCountSketch(random_state=0, **params).fit(X)
    m = roundtrip(est, tmp_path)
    for what, x in variants(X):
        sketch_close(m.transform(x), est.transform(x), what)
    Xn = X[:3].copy()
    Xn[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        m.transform(Xn)


def test_polynomial_count_sketch_pipeline(tmp_path):
    data = load_breast_cancer()
    X, y = data.data, data.target
    pipe = make_pipeline(StandardScaler(), PolynomialCountSketch(n_components=30,
                                                                 random_state=2),
                         LogisticRegression(max_iter=2000)).fit(X, y)
    m = roundtrip(pipe, tmp_path)
    np.testing.assert_array_equal(m.predict(X), pipe.predict(X))
    np.testing.assert_allclose(m.predict_proba(X), pipe.predict_proba(X), rtol=1e-9,
                               atol=1e-12)


def test_fitted_on_frames(tmp_path):
    data = load_iris(as_frame=True)
    X = data.data
    for est in (AdditiveChi2Sampler(sample_steps=3), PolynomialCountSketch(random_state=4)):
        est.fit(X)
        m = roundtrip(est, tmp_path)
        close = chi2_close if isinstance(est, AdditiveChi2Sampler) else sketch_close
        close(m.transform(X), est.transform(X))
        close(m.transform(X[X.columns[::-1]]), est.transform(X))  # columns matched by name
        assert list(m.get_feature_names_out()) == list(est.get_feature_names_out())
