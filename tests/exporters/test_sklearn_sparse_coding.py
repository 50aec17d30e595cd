"""Parity of SparseCoder, DictionaryLearning, MiniBatchDictionaryLearning and BernoulliRBM
with their .mle proxies on digits (8x8 images as 64 features, and 4x4 patches) and seeded
synthetic data: transform (every supported transform_algorithm, split_sign, positive_code,
transform_alpha, transform_n_nonzero_coefs, transform_max_iter), inverse_transform, and
BernoulliRBM's transform and score_samples, within 1e-9 relative (1e-12 absolute) of
scikit-learn: whole batches, single rows, float32, pandas input; NaN refused as scikit-learn
refuses it.

float32 input with transform_algorithm="omp": scikit-learn solves in float32 with BLAS
(strsm/spotrs/sgemv, whose summation order is its own); the graph solves in float32 in
plain order, so the codes agree to float32 rounding: within 1e-5 absolute (measured up to
4e-6 on digits) and the same atoms selected. float32 input with "lasso_cd": scikit-learn's
coordinate descent refuses it (a ValueError); the loaded model refuses it too.

"lars" and "lasso_lars" (float64 X): within 1e-9 relative, except active sets as large as
the features and nearly singular (measured up to 1.6e-9 on seeded overcomplete
dictionaries). A row whose path meets a tie between atoms (to rounding: duplicated or
dependent atoms), a degenerate active set, or more active atoms than features is refused
(a ValueError): scikit-learn's result there follows its BLAS rounding. float32 X is
refused: scikit-learn then solves partly in float32."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import (DictionaryLearning, MiniBatchDictionaryLearning,
                                   SparseCoder)
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

RTOL, ATOL = 1e-9, 1e-12
ALGOS = ("threshold", "omp", "lasso_cd", "lars", "lasso_lars")
LARS = ("lars", "lasso_lars")


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _digits():
    return load_digits().data / 16.0


def _patches():
    from sklearn.feature_extraction.image import extract_patches_2d

    imgs = load_digits().images[:20] / 16.0
    p = np.vstack([extract_patches_2d(im, (4, 4), max_patches=15, random_state=i)
                   for i, im in enumerate(imgs)])
    return p.reshape(len(p), -1)


def _atoms(k, d, seed=0):
    rng = np.random.RandomState(seed)
    D = rng.randn(k, d)
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def roundtrip(est, tmp_path):
    path = tmp_path / "m.mle"
    mle.dump(est, path)
    return mle.load(path)


def close(got, expected, what=""):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, what
    assert got.dtype == expected.dtype, (what, got.dtype, expected.dtype)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def parity(est, proxy, X):
    """transform (and inverse_transform) on the batch, single rows, float32, DataFrames."""
    close(proxy.transform(X), est.transform(X), "batch")
    for i in (0, len(X) // 2, len(X) - 1):
        close(proxy.transform(X[i:i + 1]), est.transform(X[i:i + 1]), f"row {i}")
    if hasattr(est, "feature_names_in_"):
        df = pd.DataFrame(X, columns=est.feature_names_in_)
    else:
        df = pd.DataFrame(X)
    close(proxy.transform(df), est.transform(df), "DataFrame")
    code = est.transform(X)
    close(proxy.inverse_transform(code), est.inverse_transform(code), "inverse_transform")
    x32 = X.astype(np.float32)
    if est.transform_algorithm in LARS:  # float32 X refused (see the module's docstring)
        with pytest.raises(ValueError, match="float64"):
            proxy.transform(x32)
        x32 = None
    try:
        if x32 is None:
            raise LookupError
        expected = est.transform(x32)
    except LookupError:
        pass
    except ValueError:  # lasso_cd: scikit-learn's solver takes float64 only
        with pytest.raises(Exception, match="float64"):
            proxy.transform(x32)
    else:
        got = proxy.transform(x32)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        if est.transform_algorithm == "omp":
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
            np.testing.assert_array_equal(got != 0, expected != 0)
        else:
            close(got, expected, "float32")
    bad = X[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError):
        est.transform(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.transform(bad)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("options", [
    {}, {"split_sign": True}, {"positive_code": True}, {"transform_alpha": 0.02},
    {"transform_alpha": 0.0}, {"transform_n_nonzero_coefs": 9}, {"transform_max_iter": 3},
])
def test_sparse_coder_on_digits(tmp_path, algo, options):
    X = _digits()[:400]
    est = SparseCoder(_atoms(30, 64), transform_algorithm=algo, **options).fit(X)
    if algo in ("omp", "lars") and options.get("positive_code"):  # scikit-learn raises
        with pytest.raises(ValueError):
            est.transform(X)
        with pytest.raises(UnsupportedModelError, match="positive_code"):
            mle.dump(est, tmp_path / "m.mle")
        return
    parity(est, roundtrip(est, tmp_path), X)


@pytest.mark.parametrize("algo", ALGOS)
def test_sparse_coder_on_patches_and_synthetic(tmp_path, algo):
    P = _patches()
    est = SparseCoder(_atoms(12, 16, 1), transform_algorithm=algo, transform_alpha=0.05,
                      transform_n_nonzero_coefs=4, split_sign=True).fit(P)
    parity(est, roundtrip(est, tmp_path), P)
    rng = np.random.RandomState(3)
    Xs = rng.randn(300, 10) * 3.0
    est = SparseCoder(rng.randn(25, 10), transform_algorithm=algo, transform_alpha=0.5).fit(Xs)
    parity(est, roundtrip(est, tmp_path), Xs)


def test_sparse_coder_unfitted_and_ties(tmp_path):
    # stateless: dumped without fit. Integer atoms and rows: every product is exact, so ties
    # are ties in any summation order (omp takes the first of equal correlations, and stops
    # at an atom equal to a selected one; threshold codes both)
    rng = np.random.RandomState(4)
    D = rng.randint(-2, 3, size=(6, 8)).astype(float)
    D = np.vstack([D, D[2], -D[4]])
    X = rng.randint(-3, 4, size=(200, 8)).astype(float)
    X[:5] = D[2] * 2.0
    for algo in ("threshold", "omp", "lasso_cd"):
        est = SparseCoder(D, transform_algorithm=algo, transform_n_nonzero_coefs=3)
        proxy = roundtrip(est, tmp_path)
        close(proxy.transform(X), est.transform(X), algo)
    # least angle regression: a tie between atoms, or a degenerate active set, is refused
    for algo in LARS:
        est = SparseCoder(D, transform_algorithm=algo, transform_n_nonzero_coefs=3)
        with pytest.raises(ValueError, match="not reproduced"):
            roundtrip(est, tmp_path).transform(X[:5])


def test_lars_refuses_more_atoms_than_features(tmp_path):
    # an overcomplete dictionary: past n_features active atoms they are dependent
    X = np.random.RandomState(6).randn(30, 5)
    est = SparseCoder(_atoms(12, 5, 3), transform_algorithm="lars",
                      transform_n_nonzero_coefs=8)
    with pytest.raises(ValueError, match="degenerate"):
        roundtrip(est, tmp_path).transform(X)
    est.set_params(transform_n_nonzero_coefs=4)  # fewer than the features: exact
    close(roundtrip(est, tmp_path).transform(X), est.transform(X))


def test_duplicated_atoms_on_real_rows(tmp_path):
    # A duplicated atom under rows whose products round: scikit-learn's correlations of the
    # two copies come from BLAS's gemm, whose rounding may differ between them by an ulp;
    # omp's choice among exact copies follows that rounding and is not reproduced (the
    # others agree within the tolerance).
    D = _atoms(6, 8, 2)
    D = np.vstack([D, D[2]])
    X = np.random.RandomState(4).randn(100, 8)
    for algo in ("threshold", "lasso_cd"):
        est = SparseCoder(D, transform_algorithm=algo)
        close(roundtrip(est, tmp_path).transform(X), est.transform(X), algo)


@pytest.mark.parametrize("cls", [DictionaryLearning, MiniBatchDictionaryLearning])
@pytest.mark.parametrize("algo", ALGOS)
def test_learned_dictionaries(tmp_path, cls, algo):
    X = _digits()[:300]
    est = cls(n_components=20, alpha=0.5, max_iter=5, transform_algorithm=algo,
              random_state=0).fit(X[:150])
    parity(est, roundtrip(est, tmp_path), X)


def test_in_a_pipeline(tmp_path):
    X = _digits()[:200]
    pipe = make_pipeline(StandardScaler(), DictionaryLearning(
        n_components=10, max_iter=3, transform_algorithm="lasso_cd", transform_alpha=0.3,
        random_state=0)).fit(X)
    proxy = roundtrip(pipe, tmp_path)
    close(proxy.transform(X), pipe.transform(X))


def test_refusals(tmp_path):
    X = _digits()[:50]
    with pytest.raises(UnsupportedModelError, match="float32"):
        mle.dump(SparseCoder(_atoms(5, 64).astype(np.float32)).fit(X), tmp_path / "m.mle")
    with pytest.raises(UnsupportedModelError, match="n_nonzero_coefs"):
        mle.dump(SparseCoder(_atoms(5, 64), transform_algorithm="omp",
                             transform_n_nonzero_coefs=6).fit(X), tmp_path / "m.mle")


# ---------------------------------------------------------------- BernoulliRBM

def _binary_digits():
    return (load_digits().data > 7).astype(np.float64)


@pytest.mark.parametrize("seed", [0, 42, 2 ** 32 - 1])
def test_rbm(tmp_path, seed):
    X = _binary_digits()
    est = BernoulliRBM(n_components=16, n_iter=3, random_state=seed).fit(X[:600])
    proxy = roundtrip(est, tmp_path)
    rows = X[600:1900]  # several blocks, possibly on several threads
    for m in ("transform", "score_samples"):
        close(getattr(proxy, m)(rows), getattr(est, m)(rows), m)
        close(getattr(proxy, m)(rows[:1]), getattr(est, m)(rows[:1]), m + " one row")
        close(getattr(proxy, m)(rows.astype(np.float32)),
              getattr(est, m)(rows.astype(np.float32)), m + " float32")
        df = pd.DataFrame(rows[:50])
        close(getattr(proxy, m)(df), getattr(est, m)(df), m + " DataFrame")
    # values in (0, 1), not only 0 and 1; float32 flips 1 - v in float32
    U = np.random.RandomState(5).rand(300, 64)
    for Xt in (U, U.astype(np.float32)):
        close(proxy.score_samples(Xt), est.score_samples(Xt), "unit values")
    # one feature: every draw is 0
    est1 = BernoulliRBM(n_components=2, n_iter=2, random_state=seed).fit(X[:100, :1])
    close(roundtrip(est1, tmp_path).score_samples(X[:40, :1]), est1.score_samples(X[:40, :1]))
    bad = rows[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        proxy.transform(bad)


def test_rbm_refusals(tmp_path):
    X = _binary_digits()[:100]
    for rs in (None, np.random.RandomState(0)):
        est = BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X)
        est.random_state = rs
        with pytest.raises(UnsupportedModelError, match="random_state"):
            mle.dump(est, tmp_path / "m.mle")
    est = BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X.astype(np.float32))
    with pytest.raises(UnsupportedModelError, match="float32"):
        mle.dump(est, tmp_path / "m.mle")
