"""Parity of FastICA, FactorAnalysis, NeighborhoodComponentsAnalysis, SparsePCA,
MiniBatchSparsePCA and KernelPCA with scikit-learn on real data (largest measured difference
about 1e-13 of the largest value)."""

import numpy as np
import pandas as pd
import pytest
from sklearn import decomposition as D
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import UnsupportedModelError
from covariance_testing import check_methods, close, roundtrip


def _data(name):
    if name == "iris":
        return load_iris(return_X_y=True)
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return (X - X.mean(axis=0)) / X.std(axis=0), y
    X, y = load_diabetes(return_X_y=True)
    return X / X.std(axis=0), y


def _inverse(est, model, T):
    worst = close(model.inverse_transform(T), est.inverse_transform(T))
    worst = max(worst, close(model.inverse_transform(T[:1]), est.inverse_transform(T[:1])))
    T32 = T.astype(np.float32)
    return max(worst, close(model.inverse_transform(T32), est.inverse_transform(T32)))


@pytest.mark.parametrize("whiten_solver", ["svd", "eigh"])
@pytest.mark.parametrize("whiten", ["unit-variance", "arbitrary-variance", False])
@pytest.mark.parametrize("data", ["iris", "diabetes"])
def test_fast_ica(data, whiten, whiten_solver, tmp_path):
    X, _ = _data(data)
    n = 3 if whiten else None
    est = D.FastICA(n_components=n, whiten=whiten, whiten_solver=whiten_solver,
                    random_state=0, max_iter=1000, tol=1e-3).fit(X)
    model = roundtrip(est, tmp_path)
    worst = check_methods(est, model, X, ["transform"])
    worst = max(worst, _inverse(est, model, est.transform(X)))
    assert worst < 1e-11


@pytest.mark.parametrize("rotation", [None, "varimax", "quartimax"])
@pytest.mark.parametrize("data", ["iris", "wine", "diabetes"])
def test_factor_analysis(data, rotation, tmp_path):
    X, _ = _data(data)
    est = D.FactorAnalysis(n_components=2, rotation=rotation, random_state=0).fit(X)
    model = roundtrip(est, tmp_path)
    assert check_methods(est, model, X, ["transform", "score_samples"]) < 1e-11
    assert not hasattr(model, "inverse_transform")


@pytest.mark.parametrize("data", ["iris", "wine"])
def test_nca(data, tmp_path):
    X, y = _data(data)
    est = NeighborhoodComponentsAnalysis(n_components=2, random_state=0, max_iter=30).fit(X, y)
    model = roundtrip(est, tmp_path)
    assert check_methods(est, model, X, ["transform"]) < 1e-11


@pytest.mark.parametrize("n_components", [3, 12])
@pytest.mark.parametrize("cls", [D.SparsePCA, D.MiniBatchSparsePCA])
@pytest.mark.parametrize("data", ["wine", "diabetes"])
def test_sparse_pca(data, cls, n_components, tmp_path):
    X, _ = _data(data)
    est = cls(n_components=n_components, alpha=0.5, ridge_alpha=0.05, random_state=0).fit(X)
    assert np.abs(est.components_).max() > 0
    model = roundtrip(est, tmp_path)
    # scikit-learn returns one row's transform 1-D (ridge_regression ravels a single target);
    # the loaded model returns it as a row of the batch, (1, n_components)
    worst = check_methods(est, model, X, ["transform"], single_row_1d=True)
    worst = max(worst, _inverse(est, model, est.transform(X)))
    assert worst < 1e-11


KERNELS = [dict(kernel="linear"), dict(kernel="poly"), dict(kernel="poly", degree=2, gamma=0.1,
                                                             coef0=0.5),
           dict(kernel="rbf"), dict(kernel="rbf", gamma=0.3),
           dict(kernel="sigmoid", gamma=0.01, coef0=0.1), dict(kernel="cosine")]


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("params", KERNELS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("data", ["wine", "diabetes"])
def test_kernel_pca(data, params, inverse, tmp_path):
    X, _ = _data(data)
    est = D.KernelPCA(n_components=4, fit_inverse_transform=inverse, **params).fit(X[:150])
    model = roundtrip(est, tmp_path)
    assert check_methods(est, model, X, ["transform"]) < 1e-10
    assert hasattr(model, "inverse_transform") == inverse
    if inverse:
        assert _inverse(est, model, est.transform(X)) < 1e-10


def test_kernel_pca_zero_eigenvalue_and_refusals(tmp_path):
    X, _ = _data("wine")
    est = D.KernelPCA(n_components=4, eigen_solver="dense").fit(X[:, :2])  # rank 2
    assert np.sum(est.eigenvalues_ == 0) == 2  # their columns are 0
    model = roundtrip(est, tmp_path)
    close(model.transform(X[:, :2]), est.transform(X[:, :2]))
    for kernel in ("precomputed", lambda a, b: a @ b.T):
        bad = D.KernelPCA(n_components=2, kernel=kernel)
        bad.fit(X @ X.T if kernel == "precomputed" else X)
        with pytest.raises(UnsupportedModelError, match="KernelPCA"):
            mle.dump(bad, tmp_path / "bad.mle")


def test_float32_fitted_refused(tmp_path):
    X, _ = _data("wine")
    est = D.FastICA(n_components=2, random_state=0).fit(X.astype(np.float32))
    with pytest.raises(UnsupportedModelError, match="FastICA"):
        mle.dump(est, tmp_path / "bad.mle")


def test_dataframe_pipeline_and_nan(tmp_path):
    X, _ = _data("iris")
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    for last in (D.FactorAnalysis(n_components=2), D.KernelPCA(n_components=2, kernel="rbf"),
                 D.SparsePCA(n_components=2, random_state=0)):
        pipe = make_pipeline(StandardScaler(), last).fit(df)
        model = roundtrip(pipe, tmp_path, f"{type(last).__name__}.mle")
        close(model.transform(df), pipe.transform(df))
        if hasattr(pipe, "score_samples"):
            close(model.score_samples(df), pipe.score_samples(df))
        bad = X[:2].copy()
        bad[1, 0] = np.nan
        with pytest.raises(ValueError):
            pipe.transform(bad)
        with pytest.raises(ValueError, match="NaN"):
            model.transform(bad)


def test_input_variants(assert_parity, tmp_path):
    X, y = _data("wine")
    for est in (D.FastICA(n_components=3, random_state=0).fit(X),
                D.FactorAnalysis(n_components=2).fit(X),
                D.KernelPCA(n_components=3, kernel="rbf").fit(X)):  # SparsePCA: one row is 1-D
        assert_parity(est, roundtrip(est, tmp_path, f"{type(est).__name__}.mle"), X[:40])
