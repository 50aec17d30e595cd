"""KernelDensity.score_samples: identical (bit for bit, -inf where the density is 0, NaN where
scikit-learn's cosine normalisation is NaN) to scikit-learn on its datasets and seeded
synthetic data: every kernel, kd and ball trees, depth- and breadth-first, bandwidth a number,
"scott" and "silverman", sample weights (zeros included), atol/rtol > 0 (the tree's own
approximation), every supported metric; single rows, float32, DataFrames; NaN and infinity
refused; other metrics refused at dump."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris, make_blobs
from sklearn.neighbors import KernelDensity

from mle_runtime import UnsupportedModelError

KERNELS = ("gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine")
IRIS = load_iris().data
DIABETES = load_diabetes().data
BLOBS = make_blobs(400, n_features=3, centers=4, random_state=0)[0]


def queries(X, seed=0):
    rng = np.random.RandomState(seed)
    scale = X.std(0)
    return np.vstack([X[::7] + rng.normal(scale=0.3, size=X[::7].shape) * scale, X[:4],
                      X.max(0) + 5 * scale])


def same(est, proxy, Q):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        exp = est.score_samples(Q)
    got = proxy.score_samples(Q)
    assert got.shape == exp.shape and got.dtype == exp.dtype
    np.testing.assert_array_equal(got, exp)


@pytest.mark.parametrize("kernel, algorithm, breadth_first", list(itertools.product(
    KERNELS, ("kd_tree", "ball_tree"), (True, False))))
@pytest.mark.parametrize("X, bandwidth", [(IRIS, 0.4), (DIABETES, "scott"),
                                          (BLOBS, "silverman")],
                         ids=["iris", "diabetes", "blobs"])
def test_score_samples(roundtrip, kernel, algorithm, breadth_first, X, bandwidth):
    est = KernelDensity(kernel=kernel, algorithm=algorithm, breadth_first=breadth_first,
                        bandwidth=bandwidth).fit(X)
    proxy = roundtrip(est)
    Q = queries(X)
    same(est, proxy, Q)
    same(est, proxy, Q[:1])
    same(est, proxy, Q.astype(np.float32))
    same(est, proxy, pd.DataFrame(Q))


@pytest.mark.parametrize("metric, params", [("euclidean", None), ("manhattan", None),
                                            ("chebyshev", None), ("minkowski", {"p": 3}),
                                            ("minkowski", {"p": 1.5}), ("l1", None),
                                            ("infinity", None), ("minkowski", None)])
@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_metrics(roundtrip, metric, params, algorithm):
    est = KernelDensity(kernel="epanechnikov", bandwidth=0.08, metric=metric,
                        metric_params=params, algorithm=algorithm).fit(DIABETES)
    same(est, roundtrip(est), queries(DIABETES, 1))


@pytest.mark.parametrize("tol", [(0.0, 0.0), (1e-3, 1e-4), (0.0, 1e-2), (1e-6, 0.0)])
@pytest.mark.parametrize("breadth_first", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_weights_and_tolerances(roundtrip, tol, breadth_first, weighted):
    rng = np.random.RandomState(3)
    w = rng.rand(len(DIABETES)) * 3
    w[::10] = 0.0
    for kernel in ("gaussian", "linear"):
        est = KernelDensity(kernel=kernel, bandwidth=0.1, atol=tol[0], rtol=tol[1],
                            breadth_first=breadth_first).fit(
                                DIABETES, sample_weight=w if weighted else None)
        proxy = roundtrip(est)
        same(est, proxy, queries(DIABETES, 2))
        same(est, proxy, queries(DIABETES, 2).astype(np.float32))


def test_leaf_size_and_small_data(roundtrip):
    for leaf_size in (1, 3, 100):
        est = KernelDensity(bandwidth=0.5, leaf_size=leaf_size).fit(IRIS[:7])
        same(est, roundtrip(est), queries(IRIS))


def test_bad_input(roundtrip):
    est = KernelDensity().fit(IRIS)
    proxy = roundtrip(est)
    for bad in (np.nan, np.inf):
        X = IRIS[:3].copy()
        X[1, 1] = bad
        with pytest.raises(ValueError):
            est.score_samples(X)
        with pytest.raises(ValueError):
            proxy.score_samples(X)
    with pytest.raises(ValueError, match="features"):
        proxy.score_samples(IRIS[:3, :2])


def test_refused_metrics(roundtrip):
    est = KernelDensity(metric="haversine", algorithm="ball_tree").fit(IRIS[:, :2])
    with pytest.raises(UnsupportedModelError, match="metric"):
        roundtrip(est)
    est = KernelDensity(metric="minkowski", metric_params={"p": 3, "w": np.ones(4)},
                        algorithm="ball_tree").fit(IRIS)
    with pytest.raises(UnsupportedModelError, match="weighted"):
        roundtrip(est)
