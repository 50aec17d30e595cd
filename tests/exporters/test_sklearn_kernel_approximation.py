"""Parity of Nystroem, RBFSampler and the random projections with their .mle proxies: transform within
1e-9 absolute (``assert_parity``: whole dataset, single rows, float32, int, list,
Fortran-ordered and strided input), every supported Nystroem kernel with default and explicit
parameters, and in a pipeline before a classifier."""

import math

import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection

import mle_runtime as mle

NYSTROEM = {
    "rbf": dict(kernel="rbf"),
    "rbf(gamma)": dict(kernel="rbf", gamma=0.3),
    "poly": dict(kernel="poly"),
    "polynomial(params)": dict(kernel="polynomial", degree=2, gamma=0.2, coef0=0.5),
    "sigmoid": dict(kernel="sigmoid", gamma=0.05),
    "linear": dict(kernel="linear"),
    "cosine": dict(kernel="cosine"),
    "rbf(kernel_params)": dict(kernel="rbf", kernel_params={"gamma": 0.2}),
}


@pytest.mark.parametrize("name", list(NYSTROEM))
@pytest.mark.parametrize("ds", ["iris", "breast_cancer"])
def test_nystroem(name, ds, dataset, roundtrip, assert_parity):
    X, _ = dataset(ds, scaled=True)
    # The linear and cosine kernels have rank <= n_features, a polynomial kernel of degree d
    # rank <= C(n_features + d, d): more components than that make normalization_ amplify
    # the reference's own BLAS rounding (which differs between CPUs) by its condition number.
    params = NYSTROEM[name]
    if name in ("linear", "cosine"):
        n = min(20, X.shape[1])
    elif params["kernel"] in ("poly", "polynomial"):
        n = min(20, math.comb(X.shape[1] + params.get("degree", 3), params.get("degree", 3)))
    else:
        n = 20
    model = Nystroem(n_components=n, random_state=0, **NYSTROEM[name]).fit(X)
    assert_parity(model, roundtrip(model), X, methods=("transform",))


@pytest.mark.parametrize("cls", [GaussianRandomProjection, SparseRandomProjection])
def test_random_projection(cls, dataset, roundtrip, assert_parity):
    X, _ = dataset("breast_cancer", scaled=True)
    model = cls(n_components=8, random_state=0).fit(X)
    assert_parity(model, roundtrip(model), X, methods=("transform",))


@pytest.mark.parametrize("gamma", [1.0, "scale", 0.01])
def test_rbf_sampler(gamma, dataset, roundtrip, assert_parity):
    X, _ = dataset("breast_cancer", scaled=True)
    model = RBFSampler(gamma=gamma, n_components=50, random_state=0).fit(X)
    assert_parity(model, roundtrip(model), X, methods=("transform",))


def test_nystroem_pipeline(dataset, roundtrip, assert_parity):
    X, y = dataset("wine")
    model = make_pipeline(StandardScaler(), Nystroem(n_components=30, random_state=0),
                          LogisticRegression(max_iter=500)).fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_unsupported_kernel_is_refused(dataset, tmp_path):
    X, _ = dataset("iris")
    model = Nystroem(kernel="chi2", n_components=5, random_state=0).fit(np.abs(X))
    with pytest.raises(mle.UnsupportedModelError, match="chi2"):
        mle.dump(model, tmp_path / "m.mle")
