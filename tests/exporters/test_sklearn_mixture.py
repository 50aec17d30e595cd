"""Parity of GaussianMixture and BayesianGaussianMixture (every covariance_type, both weight
priors) with their .mle proxies: predict identical (int64), predict_proba and score_samples
within 1e-9 relative (and 1e-12 absolute) of scikit-learn on its datasets and seeded synthetic
data: the whole batch, single rows, float32 (spherical: see below), int and list input,
DataFrames; NaN refused as scikit-learn refuses it.

float32 input with covariance_type="spherical": scikit-learn's ``row_norms`` of the float32
rows sums the squares in float32 in einsum's order; the graph sums them in binary64 and
rounds once to float32, so the norms agree to a float32 rounding and the results within
``4 * 2^-24 * max(|x|^2) * max(precisions_)`` (predict identical)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

RTOL, ATOL = 1e-9, 1e-12
METHODS = ("predict", "predict_proba", "score_samples")
TYPES = ("full", "tied", "diag", "spherical")


def close(got, expected, what="", rtol=RTOL):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=ATOL, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def largest_difference(model, proxy, X):
    out = 0.0
    for m in ("predict_proba", "score_samples"):
        e, g = getattr(model, m)(X), getattr(proxy, m)(X)
        out = max(out, float(np.max(np.abs(g - e) / np.maximum(np.abs(e), 1e-300))))
    return out


def parity(model, proxy, X):
    rng = np.random.default_rng(0)
    Xt = X + rng.normal(scale=0.2 * X.std(axis=0), size=X.shape)
    variants = [("batch", Xt), ("int", np.round(Xt)), ("list", Xt[:5].tolist()),
                ("fortran", np.asfortranarray(Xt)), ("strided", Xt[::3])]
    variants += [(f"row {i}", Xt[i:i + 1]) for i in range(0, len(Xt), max(1, len(Xt) // 20))]
    for label, v in variants:
        for m in METHODS:
            close(getattr(proxy, m)(v), getattr(model, m)(v), f"{m} on {label}")
    x32 = Xt.astype(np.float32)
    for m in METHODS:
        e, g = getattr(model, m)(x32), getattr(proxy, m)(x32)
        if model.covariance_type != "spherical" or m == "predict":
            close(g, e, f"{m} on float32")
        else:  # float32 row norms summed in another order: a float32 rounding of |x|^2
            assert g.dtype == e.dtype and g.shape == e.shape
            scale = float(np.max(np.sum(x32.astype(np.float64) ** 2, axis=1) *
                                 np.max(model.precisions_)))
            np.testing.assert_allclose(g, e, rtol=0, atol=4 * 2.0 ** -24 * scale *
                                       (1.0 if m == "score_samples" else 0.5))
    bad = Xt[:3].copy()
    bad[0, 1] = np.nan
    for m in METHODS:
        with pytest.raises(ValueError):
            getattr(proxy, m)(bad)
    return largest_difference(model, proxy, Xt)


MODELS = {
    "gmm": lambda t, k: GaussianMixture(k, covariance_type=t, random_state=0),
    "bgmm_process": lambda t, k: BayesianGaussianMixture(
        n_components=k, covariance_type=t, random_state=0, max_iter=200),
    "bgmm_distribution": lambda t, k: BayesianGaussianMixture(
        n_components=k, covariance_type=t, random_state=0, max_iter=200,
        weight_concentration_prior_type="dirichlet_distribution"),
}


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("cov", TYPES)
@pytest.mark.parametrize("ds, k", [("iris", 3), ("wine", 4), ("clf_multiclass", 5)])
def test_parity(kind, cov, ds, k, dataset, roundtrip):
    import warnings

    X, _ = dataset(ds, scaled=ds == "wine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence
        model = MODELS[kind](cov, k).fit(X)
    proxy = roundtrip(model)
    assert parity(model, proxy, X) < 1e-10
    np.testing.assert_array_equal(proxy.means_, model.means_)
    np.testing.assert_array_equal(proxy.weights_, model.weights_)


@pytest.mark.parametrize("cov", TYPES)
def test_one_component_and_far_rows(cov, roundtrip):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)) * [1.0, 3.0, 0.5]
    model = GaussianMixture(1, covariance_type=cov).fit(X)
    proxy = roundtrip(model)
    far = np.vstack([X[:10], X[:10] * 40.0, [[1e3, -1e3, 5e2]]])
    for m in METHODS:
        close(getattr(proxy, m)(far), getattr(model, m)(far), m)
    two = GaussianMixture(2, covariance_type=cov, random_state=0).fit(
        np.vstack([X, X + 8.0]))
    proxy = roundtrip(two)
    # far from both components: the log probabilities are large and negative and the
    # probabilities of the farther one underflow
    for m in METHODS:
        close(getattr(proxy, m)(far * 3), getattr(two, m)(far * 3), m)


def test_dataframe_input(dataset, roundtrip):
    X, _ = dataset("wine", scaled=True)
    cols = [f"f{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=cols)
    model = GaussianMixture(3, covariance_type="full", random_state=0).fit(df)
    proxy = roundtrip(model)
    for m in METHODS:
        close(getattr(proxy, m)(df), getattr(model, m)(df), m)
        close(getattr(proxy, m)(df[cols[::-1]]), getattr(model, m)(df), m + " reordered")


def test_in_a_pipeline(dataset, roundtrip):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = dataset("breast_cancer")
    model = make_pipeline(StandardScaler(), BayesianGaussianMixture(
        n_components=3, covariance_type="diag", random_state=0)).fit(X)
    proxy = roundtrip(model)
    for m in METHODS:
        close(getattr(proxy, m)(X), getattr(model, m)(X), m)


def test_float32_fitted_model_is_refused(dataset):
    X, _ = dataset("iris")
    model = GaussianMixture(2, random_state=0).fit(X.astype(np.float32))
    if model.means_.dtype == np.float32:
        with pytest.raises(UnsupportedModelError, match="GaussianMixture fitted on float32"):
            mle.dump(model, "/dev/null")


@pytest.mark.parametrize("cov", ["full", "tied", "diag"])
def test_float32_through_pipelines(cov, dataset, roundtrip):
    # after StandardScaler the rows are still float32 in scikit-learn (the squared distances
    # are stored in float32); after PCA they are float64
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = dataset("wine")
    x32 = X.astype(np.float32)
    for first in (StandardScaler(), PCA(5)):
        model = make_pipeline(first, GaussianMixture(3, covariance_type=cov,
                                                     random_state=0)).fit(X)
        proxy = roundtrip(model)
        for m in METHODS:
            close(getattr(proxy, m)(x32), getattr(model, m)(x32), f"{m} after {first}")
            close(getattr(proxy, m)(X), getattr(model, m)(X), f"{m} after {first}")
