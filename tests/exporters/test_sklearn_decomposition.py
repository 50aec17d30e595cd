"""Parity of PCA, IncrementalPCA and TruncatedSVD with their .mle proxies.

transform (and PCA's score_samples) through ``assert_parity``: within 1e-9 absolute on the
whole dataset, single rows, float32, int, list, Fortran-ordered and strided input (the
transformed values are at most a few hundred, so this is tighter than 1e-9 relative);
score_samples, whose values reach the thousands, within 1e-9 relative. Covered: whitening
(including components whose variance is clipped at eps), every PCA solver, pipelines, pandas
input and NaN (refused, as scikit-learn refuses it).
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, IncrementalPCA, TruncatedSVD
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y


def data(name, dataset):
    return digits() if name == "digits" else dataset(name)


MODELS = {
    "PCA(3)": lambda: PCA(3),
    "PCA(0.9)": lambda: PCA(0.9),
    "PCA(whiten)": lambda: PCA(3, whiten=True),
    "PCA(full)": lambda: PCA(4, svd_solver="full"),
    "PCA(randomized,whiten)": lambda: PCA(4, svd_solver="randomized", whiten=True,
                                         random_state=0),
    "PCA(arpack)": lambda: PCA(3, svd_solver="arpack", random_state=0),
    "PCA(covariance_eigh)": lambda: PCA(3, svd_solver="covariance_eigh"),
    "PCA(all)": lambda: PCA(),
    "IncrementalPCA": lambda: IncrementalPCA(4, batch_size=60),
    "IncrementalPCA(whiten)": lambda: IncrementalPCA(4, whiten=True),
    "TruncatedSVD": lambda: TruncatedSVD(4, random_state=0),
    "TruncatedSVD(arpack)": lambda: TruncatedSVD(3, algorithm="arpack", random_state=0),
}


def _close(expected, got, rtol=1e-9):
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer", "digits"])
def test_transform_parity(name, ds, dataset, roundtrip, assert_parity):
    X, _ = data(ds, dataset)
    if ds in ("wine", "breast_cancer") and "TruncatedSVD" not in name:
        X = X / X.std(axis=0)  # comparable feature scales, as one uses PCA
    model = MODELS[name]().fit(X)
    proxy = roundtrip(model)
    methods = ("transform",)
    assert_parity(model, proxy, X, methods=methods)
    if hasattr(model, "score_samples") and name.startswith("PCA"):
        try:
            model.get_precision()
        except np.linalg.LinAlgError:
            # scikit-learn's score_samples raises for every input: the proxy has none
            assert not hasattr(proxy, "score_samples")
            return
        assert hasattr(proxy, "score_samples")
        for variant in (X, X[:1], X[7:8], X.astype(np.float32), np.round(X).astype(np.int64)):
            _close(model.score_samples(variant), proxy.score_samples(variant))


def test_whitening_with_a_clipped_variance(roundtrip, assert_parity):
    X = np.zeros((20, 3))
    X[:, 0] = np.arange(20.0)  # rank 1: two variances are 0, clipped at eps
    model = PCA(3, whiten=True).fit(X)
    assert np.sqrt(model.explained_variance_).min() < np.finfo(np.float64).eps
    rng = np.random.default_rng(0)
    assert_parity(model, roundtrip(model), rng.normal(size=(30, 3)) * 1e-12,
                  methods=("transform",))


def test_pipeline_pca_then_classifier(dataset, roundtrip, assert_parity):
    X, y = digits()
    model = make_pipeline(StandardScaler(), PCA(20, whiten=True),
                          LogisticRegression(max_iter=500)).fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)


def test_pipeline_ending_in_pca_scores_samples(dataset, roundtrip, assert_parity):
    X, _ = dataset("wine")
    model = make_pipeline(StandardScaler(), PCA(5)).fit(X)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X, methods=("transform",))
    np.testing.assert_allclose(proxy.score_samples(X), model.score_samples(X), rtol=1e-9)


def test_dataframe_and_nan(dataset, roundtrip, assert_same):
    X, _ = dataset("wine")
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    model = PCA(3).fit(df)
    proxy = roundtrip(model)
    assert_same(model.transform(df), proxy.transform(df))
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        model.transform(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.transform(bad)


def test_fitted_attributes(dataset, roundtrip):
    X, _ = dataset("iris")
    model = PCA(2).fit(X)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.components_, model.components_)
    np.testing.assert_array_equal(proxy.explained_variance_ratio_,
                                  model.explained_variance_ratio_)


def test_float32_fitted_model_is_refused(dataset, tmp_path):
    X, _ = dataset("iris", dtype=np.float32)
    model = PCA(2).fit(X)
    assert model.components_.dtype == np.float32
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(model, tmp_path / "m.mle")
