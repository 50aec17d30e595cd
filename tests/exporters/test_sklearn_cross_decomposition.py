"""Parity of PLSRegression, PLSCanonical, CCA (transform of X, predict, inverse_transform) and
PLSSVD (transform) with scikit-learn on real data (largest measured difference about 1e-14 of
the largest value)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cross_decomposition import CCA, PLSSVD, PLSCanonical, PLSRegression
from sklearn.datasets import load_diabetes, load_linnerud
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from covariance_testing import check_methods, close, roundtrip

CLASSES = {"PLSRegression": PLSRegression, "PLSCanonical": PLSCanonical, "CCA": CCA}


def _data(name):
    if name == "linnerud":
        X, Y = load_linnerud(return_X_y=True)
        return X.astype(np.float64), Y.astype(np.float64)
    X, y = load_diabetes(return_X_y=True)
    if name == "diabetes":
        return X, np.column_stack([y, X[:, 2] * 100 + X[:, 3]])
    return X, y  # one target, 1-D


# PLSCanonical and CCA need two targets or more; PLSRegression also takes a 1-D target
CASES = [(n, d) for n in sorted(CLASSES) for d in ("linnerud", "diabetes", "diabetes1d")
         if n == "PLSRegression" or d != "diabetes1d"]


@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("name,data", CASES)
def test_parity(name, data, scale, tmp_path):
    X, Y = _data(data)
    est = CLASSES[name](n_components=2, scale=scale, max_iter=1000).fit(X, Y)
    model = roundtrip(est, tmp_path)
    worst = check_methods(est, model, X, ["transform", "predict"])
    T = est.transform(X)
    worst = max(worst, close(model.inverse_transform(T), est.inverse_transform(T)))
    worst = max(worst, close(model.inverse_transform(T[:1]), est.inverse_transform(T[:1])))
    T32 = T.astype(np.float32)
    worst = max(worst, close(model.inverse_transform(T32), est.inverse_transform(T32)))
    assert worst < 1e-11
    assert model.predict(X).ndim == est.predict(X).ndim


@pytest.mark.parametrize("data", ["linnerud", "diabetes"])
def test_pls_svd(data, tmp_path):
    X, Y = _data(data)
    est = PLSSVD(n_components=2).fit(X, Y)
    model = roundtrip(est, tmp_path)
    assert check_methods(est, model, X, ["transform"]) < 1e-11
    assert not hasattr(model, "predict") and not hasattr(model, "inverse_transform")


def test_dataframe_pipeline_and_nan(tmp_path):
    X, Y = _data("linnerud")
    df = pd.DataFrame(X, columns=["chins", "situps", "jumps"])
    pipe = make_pipeline(StandardScaler(), PLSRegression(n_components=2)).fit(df, Y)
    model = roundtrip(pipe, tmp_path)
    close(model.predict(df), pipe.predict(df))
    close(model.transform(df), pipe.transform(df))
    T = pipe.transform(df)
    close(model.inverse_transform(T), pipe.inverse_transform(T))
    bad = X[:2].copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError):
        pipe.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError):
        model.inverse_transform(np.array([[np.nan, 0.0]]))


def test_fitted_attributes(tmp_path):
    X, Y = _data("linnerud")
    est = CCA(n_components=2).fit(X, Y)
    model = roundtrip(est, tmp_path)
    np.testing.assert_array_equal(model.x_rotations_, est.x_rotations_)
    np.testing.assert_array_equal(model.coef_, est.coef_)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_fitted_on_float32(name, tmp_path):
    X, Y = _data("linnerud")
    est = CLASSES[name](n_components=2).fit(X.astype(np.float32), Y.astype(np.float32))
    model = roundtrip(est, tmp_path)
    check_methods(est, model, X, ["transform", "predict"])


def test_input_variants(assert_parity, tmp_path):
    X, Y = _data("diabetes")
    est = PLSRegression(n_components=3).fit(X, Y)
    assert_parity(est, roundtrip(est, tmp_path), X)
