"""Parity of Isomap.transform and LocallyLinearEmbedding.transform with scikit-learn on real
data (digits, iris, swiss roll): full batches, single rows, the training rows, float32 input
(tree searches; float32 input to a brute-force search raises, as for the neighbour
estimators), a DataFrame and pipelines. Largest measured difference: about 3e-15 of the
largest value (the Gram products and the final projection are summed in another order than
BLAS sums them); neighbours, ties included, are scikit-learn's (brute force: with one thread,
as docs/FORMAT.md 11.9 says)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris, make_swiss_roll
from sklearn.manifold import Isomap, LocallyLinearEmbedding
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

RTOL = 1e-9


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _data(name):
    if name == "digits":
        X = load_digits().data[:600]
    elif name == "iris":
        X = load_iris().data
    else:
        X, _ = make_swiss_roll(500, noise=0.05, random_state=0)
    return X[:-60], X[-60:]


def _roundtrip(est, tmp_path):
    mle.dump(est, tmp_path / "m.mle")
    return mle.load(tmp_path / "m.mle")


def _close(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    scale = max(float(np.abs(expected).max()), 1e-300)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale * 1e-3)
    return float(np.abs(got - expected).max()) / scale


def _check(est, proxy, train, test):
    worst = 0.0
    with threadpool_limits(1):  # scikit-learn's brute-force tie order with one thread
        for Q in (test, train[:80], test[:1], test[-1:], train[3:4]):
            worst = max(worst, _close(proxy.transform(Q), est.transform(Q)))
        cols = [f"f{i}" for i in range(test.shape[1])]
        worst = max(worst, _close(proxy.transform(pd.DataFrame(test, columns=cols)),
                                  est.transform(test)))
        if est.nbrs_._fit_method != "brute":
            Q = test.astype(np.float32)
            worst = max(worst, _close(proxy.transform(Q), est.transform(Q)))
            worst = max(worst, _close(proxy.transform(Q[:1]), est.transform(Q[:1])))
    return worst


ISOMAPS = [
    dict(n_neighbors=8, n_components=2),
    dict(n_neighbors=5, n_components=3, metric="manhattan"),
    dict(n_neighbors=10, n_components=4, neighbors_algorithm="brute"),
    dict(n_neighbors=6, n_components=2, neighbors_algorithm="ball_tree", p=3),
    dict(n_neighbors=7, n_components=3, eigen_solver="dense", path_method="D"),
]


@pytest.mark.parametrize("kwargs", ISOMAPS)
@pytest.mark.parametrize("data", ["digits", "iris", "swiss"])
def test_isomap(data, kwargs, tmp_path):
    train, test = _data(data)
    est = Isomap(**kwargs).fit(train)
    proxy = _roundtrip(est, tmp_path)
    assert _check(est, proxy, train, test) < 1e-12
    np.testing.assert_array_equal(proxy.embedding_, est.embedding_)
    assert proxy.get_feature_names_out().tolist() == est.get_feature_names_out().tolist()


LLES = [
    dict(n_neighbors=10, n_components=2),
    dict(n_neighbors=12, n_components=2, method="modified"),
    dict(n_neighbors=8, n_components=3, reg=1e-1, neighbors_algorithm="ball_tree"),
    dict(n_neighbors=9, n_components=2, method="ltsa", neighbors_algorithm="brute",
         eigen_solver="dense"),
    dict(n_neighbors=11, n_components=2, method="hessian", eigen_solver="dense"),
]


@pytest.mark.parametrize("kwargs", LLES)
@pytest.mark.parametrize("data", ["digits", "iris", "swiss"])
def test_locally_linear_embedding(data, kwargs, tmp_path):
    train, test = _data(data)
    est = LocallyLinearEmbedding(random_state=0, **kwargs).fit(train)
    proxy = _roundtrip(est, tmp_path)
    assert _check(est, proxy, train, test) < 1e-12
    np.testing.assert_array_equal(proxy.embedding_, est.embedding_)
    assert proxy.reconstruction_error_ == est.reconstruction_error_


def test_locally_linear_embedding_fitted_on_float32(tmp_path):
    # its fit converts the data to float64: stored
    train, test = _data("swiss")
    est = LocallyLinearEmbedding(n_neighbors=8, n_components=2).fit(train.astype(np.float32))
    assert _check(est, _roundtrip(est, tmp_path), train, test) < 1e-12


def test_duplicate_rows_and_ties(tmp_path):
    # integer-valued rows: many equal distances; a query equal to its neighbours (zero trace)
    rng = np.random.default_rng(3)
    train = rng.integers(0, 3, size=(120, 3)).astype(float) + rng.normal(scale=1e-3,
                                                                            size=(120, 3))
    test = np.vstack([rng.integers(0, 3, size=(30, 3)).astype(float), train[:5]])
    for est in (Isomap(n_neighbors=6, n_components=2),
                LocallyLinearEmbedding(n_neighbors=6, n_components=2, random_state=0),
                LocallyLinearEmbedding(n_neighbors=6, n_components=2, random_state=0,
                                       neighbors_algorithm="brute")):
        est.fit(train)
        assert _check(est, _roundtrip(est, tmp_path), train, test) < 1e-12


@pytest.mark.parametrize("cls", [Isomap, LocallyLinearEmbedding])
def test_in_a_pipeline(cls, tmp_path):
    train, test = _data("swiss")
    est = make_pipeline(StandardScaler(), cls(n_neighbors=8, n_components=2)).fit(train)
    proxy = _roundtrip(est, tmp_path)
    for Q in (test, test[:1], test.astype(np.float32)):
        _close(proxy.transform(Q), est.transform(Q))


@pytest.mark.parametrize("cls", [Isomap, LocallyLinearEmbedding])
def test_nan_and_wrong_width_are_refused(cls, tmp_path):
    train, test = _data("iris")
    proxy = _roundtrip(cls(n_neighbors=6, n_components=2).fit(train), tmp_path)
    bad = test[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        proxy.transform(bad)
    with pytest.raises(ValueError, match="features"):
        proxy.transform(test[:, :3])


def test_refused_configurations(tmp_path):
    train, _ = _data("iris")
    cases = [
        (Isomap(n_neighbors=None, radius=1.0, n_components=2), "radius"),
        (Isomap(n_neighbors=5, metric="cosine", n_components=2), "metric"),
        (Isomap(n_neighbors=5, n_components=2), "float32"),  # it searches in float32
    ]
    for est, fragment in cases:
        X = train.astype(np.float32) if fragment == "float32" else train
        est.fit(X)
        with pytest.raises(UnsupportedModelError, match=fragment):
            mle.dump(est, tmp_path / "m.mle")
    D = np.sqrt(((train[:, None] - train[None]) ** 2).sum(-1))
    est = Isomap(n_neighbors=5, n_components=2, metric="precomputed").fit(D)
    with pytest.raises(UnsupportedModelError, match="precomputed"):
        mle.dump(est, tmp_path / "m.mle")


def test_loading_imports_neither_sklearn_nor_scipy(tmp_path):
    import subprocess
    import sys

    train, test = _data("swiss")
    est = LocallyLinearEmbedding(n_neighbors=8, n_components=2).fit(train)
    mle.dump(est, tmp_path / "m.mle")
    np.save(tmp_path / "q.npy", test)
    code = ("import sys, numpy as np, mle_runtime as mle\n"
            f"m = mle.load({str(tmp_path / 'm.mle')!r})\n"
            f"np.save({str(tmp_path / 'out.npy')!r}, m.transform(np.load("
            f"{str(tmp_path / 'q.npy')!r})))\n"
            "assert 'sklearn' not in sys.modules and 'scipy' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    _close(np.load(tmp_path / "out.npy"), est.transform(test))
