"""Parity of SGDOneClassSVM (predict, decision_function, score_samples), SkewedChi2Sampler,
KernelCenterer and RandomTreesEmbedding (transform) with their .mle proxies, on
scikit-learn's datasets and seeded synthetic data: labels identical (dtype included), values
within 1e-9 relative (and 1e-12 absolute) on the whole batch, single rows, int and list input
and DataFrames; float32 as stated per estimator; NaN as scikit-learn treats it.

float32: SkewedChi2Sampler adds the skewedness in float32 as scikit-learn does, and takes the
log in binary64 rounded to float32 (numpy's own float32 log is off by one ulp in about one
entry in ten); KernelCenterer centres a float32 kernel in float32 step by step, the graph in
binary64 rounded once to float32: both agree to float32 rounding (stated tolerances below).
SGDOneClassSVM and RandomTreesEmbedding are exact on float32 input."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomTreesEmbedding
from sklearn.kernel_approximation import SkewedChi2Sampler
from sklearn.linear_model import SGDOneClassSVM
from sklearn.preprocessing import KernelCenterer

import mle_runtime as mle

RTOL, ATOL = 1e-9, 1e-12


def dense(a):
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def close(got, expected, what="", rtol=RTOL, atol=ATOL):
    got, expected = np.asarray(got), dense(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (
        what, got.shape, expected.shape, got.dtype, expected.dtype)
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def variants(X, float32=True):
    out = [("batch", X), ("int", np.round(X)), ("list", X[:5].tolist()),
           ("fortran", np.asfortranarray(X))]
    out += [(f"row {i}", X[i:i + 1]) for i in range(0, len(X), max(1, len(X) // 20))]
    if float32:
        out += [("float32", X.astype(np.float32)), ("float32 row", X[:1].astype(np.float32))]
    return out


def noisy(X, seed=0):
    return X + np.random.default_rng(seed).normal(scale=0.2 * X.std(axis=0), size=X.shape)


def frame(X):
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])


@pytest.mark.parametrize("nu", [0.1, 0.5])
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer", "regression"])
def test_sgd_one_class_svm(nu, ds, dataset, roundtrip):
    X, _ = dataset(ds, scaled=True)
    model = SGDOneClassSVM(nu=nu, random_state=0).fit(X)
    proxy = roundtrip(model)
    for label, v in variants(noisy(X)):
        for m in ("predict", "decision_function", "score_samples"):
            close(getattr(proxy, m)(v), getattr(model, m)(v), f"{m} on {label}")
    df = frame(X)
    fitted = SGDOneClassSVM(nu=nu, random_state=0).fit(df)
    p = roundtrip(fitted)
    for m in ("predict", "decision_function", "score_samples"):
        close(getattr(p, m)(df), getattr(fitted, m)(df), m + " on a DataFrame")
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        proxy.predict(bad)


@pytest.mark.parametrize("skew, n", [(1.0, 30), (0.05, 100), (5.0, 7)])
@pytest.mark.parametrize("ds", ["iris", "wine", "diabetes"])
def test_skewed_chi2_sampler(skew, n, ds, dataset, roundtrip):
    X, _ = dataset(ds)
    X = X - X.min(axis=0)  # >= 0, so every row is above -skewedness
    model = SkewedChi2Sampler(skewedness=skew, n_components=n, random_state=0).fit(X)
    proxy = roundtrip(model)
    Xt = np.abs(noisy(X))
    for label, v in variants(Xt, float32=False):
        close(proxy.transform(v), model.transform(v), f"transform on {label}")
    # float32: scikit-learn's X + skewedness and log are float32; the result is float64
    x32 = Xt.astype(np.float32)
    e = model.transform(x32)
    close(proxy.transform(x32), e, "float32", rtol=0,
          atol=4 * 2.0 ** -23 * float(np.abs(model.random_weights_).sum(axis=0).max()) *
          np.sqrt(2.0 / n) * float(np.abs(np.log(x32.astype(np.float64) + skew)).max() + 1))
    df = frame(X)
    fitted = SkewedChi2Sampler(skewedness=skew, n_components=n, random_state=0).fit(df)
    close(roundtrip(fitted).transform(frame(Xt)), fitted.transform(frame(Xt)), "DataFrame")


def test_skewed_chi2_sampler_refuses_rows_at_or_below_minus_skewedness(roundtrip):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 3, size=(50, 3))
    model = SkewedChi2Sampler(skewedness=0.5, n_components=10, random_state=0).fit(X)
    proxy = roundtrip(model)
    edge = X[:4].copy()
    edge[2, 1] = np.nextafter(-0.5, 1.0)  # just above: accepted
    close(proxy.transform(edge), model.transform(edge), "just above -skewedness")
    for bad in (-0.5, -0.75, -1e300, -np.inf):
        rows = X[:6].copy()
        rows[4, 2] = bad
        with pytest.raises(ValueError):
            model.transform(rows)
        with pytest.raises(ValueError, match="smaller than -skewedness" if np.isfinite(bad)
                           else "infinity"):
            proxy.transform(rows)
        if np.isfinite(np.float32(bad)):
            with pytest.raises(ValueError, match="smaller than -skewedness"):
                proxy.transform(rows.astype(np.float32))
    rows = X[:3].copy()
    rows[1, 0] = np.nan
    with pytest.raises(ValueError):
        proxy.transform(rows)


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer"])
def test_kernel_centerer(kernel, ds, dataset, roundtrip):
    from sklearn.metrics.pairwise import pairwise_kernels

    X, _ = dataset(ds, scaled=True)
    fit, new = X[::2], noisy(X[1::2])
    K = pairwise_kernels(fit, metric=kernel)
    Kt = pairwise_kernels(new, fit, metric=kernel)
    model = KernelCenterer().fit(K)
    proxy = roundtrip(model)
    scale = float(np.abs(Kt).max())
    for label, v in variants(Kt, float32=False):
        # one binary64 map instead of scikit-learn's four steps: the same to a few ulps of the
        # kernel's magnitude
        close(proxy.transform(v), model.transform(v), f"transform on {label}",
              atol=1e-14 * scale * K.shape[0] ** 0.5)
    k32 = Kt.astype(np.float32)
    close(proxy.transform(k32), model.transform(k32), "float32", rtol=0,
          atol=8 * 2.0 ** -24 * float(np.abs(k32).max() + np.abs(K).max()))
    close(proxy.transform(K), model.transform(K), "the training kernel",
          atol=1e-14 * float(np.abs(K).max()) * K.shape[0] ** 0.5)


@pytest.mark.parametrize("params", [dict(n_estimators=10, max_depth=3),
                                    dict(n_estimators=25, max_depth=5, min_samples_leaf=3),
                                    dict(n_estimators=4, max_leaf_nodes=6)])
@pytest.mark.parametrize("ds", ["iris", "breast_cancer", "regression"])
def test_random_trees_embedding(params, ds, dataset, roundtrip):
    X, _ = dataset(ds)
    model = RandomTreesEmbedding(random_state=0, **params).fit(X)
    proxy = roundtrip(model)
    for label, v in variants(noisy(X)):
        close(proxy.transform(v), model.transform(v), f"transform on {label}")
    df = frame(X)
    fitted = RandomTreesEmbedding(random_state=0, **params).fit(df)
    close(roundtrip(fitted).transform(frame(noisy(X))), fitted.transform(frame(noisy(X))),
          "DataFrame")
    bad = X[:3].copy()
    bad[1, 0] = np.nan
    try:
        expected = dense(model.transform(bad))
    except ValueError:
        with pytest.raises(ValueError):
            proxy.transform(bad)
    else:
        close(proxy.transform(bad), expected, "NaN")


def test_random_trees_embedding_in_a_pipeline(dataset, roundtrip):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = dataset("breast_cancer")
    model = make_pipeline(RandomTreesEmbedding(n_estimators=8, max_depth=3, random_state=0,
                                               sparse_output=False),
                          LogisticRegression(max_iter=2000)).fit(X, y)
    proxy = roundtrip(model)
    close(proxy.predict(X), model.predict(X))
    close(proxy.predict_proba(X), model.predict_proba(X))
