"""Parity of GaussianProcessRegressor (predict, predict(X, return_std=True)) and
GaussianProcessClassifier (predict, predict_proba) with scikit-learn.

Labels exactly; means and probabilities within 1e-9 of the largest value (the kernel sums,
the triangular solve and the products run in another order than scipy's and the BLAS';
measured on these data: means up to about 5e-13, probabilities up to about 2e-12 absolute:
the Laplace approximation's COEFS, of magnitude 3500, cancel). Standard deviations: the
variance ``std ** 2`` within 1e-9 of the prior variance ``kernel_.diag(X) * _y_train_std ** 2``
(near the training rows the posterior variance is the difference of two numbers of the prior's
size, so a deviation of 3e-3 may differ by 2e-6 relative; measured: variances up to 6e-11 of
the prior's). Further measured exceptions, not asserted here: a kernel matrix so ill-conditioned
that ``alpha_`` cancels (a noise-free DotProduct on 3 features: 2e-6) amplifies those
rounding differences; for float32 input, scikit-learn takes DotProduct's diagonal
``einsum(X, X)`` in float32 while the loaded model widens X first (1e-7 of the deviation).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (RBF, ConstantKernel, DotProduct, ExpSineSquared,
                                              Matern, PairwiseKernel, RationalQuadratic,
                                              WhiteKernel)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

TOL = 1e-9


def _roundtrip(est, tmp_path):
    p = tmp_path / "m.mle"
    mle.dump(est, p)
    return mle.load(p)


def _close(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL * max(1.0, np.abs(b).max()))


def _close_std(std, ref_std, model, X):
    assert std.shape == ref_std.shape and std.dtype == ref_std.dtype
    prior = model.kernel_.diag(X).max() * np.max(np.asarray(model._y_train_std) ** 2)
    np.testing.assert_allclose(std ** 2, ref_std ** 2, rtol=0, atol=TOL * max(prior, 1e-300))


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the hyperparameter search
        return est.fit(X, y)


def _regression(name):
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        X = StandardScaler().fit_transform(X[:90, :5])
        return X[:70], y[:70], X[70:]
    if name == "linnerud":  # three targets
        X, y = datasets.load_linnerud(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        return X[:15], y[:15], X[15:]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.column_stack([np.sin(2 * X[:, 0]) + X[:, 1], X[:, 2] * X[:, 0]])
    return X[:60], y[:60], X[60:]


KERNELS = {
    "rbf": lambda d: RBF(),
    # bounds that keep the kernel matrix well conditioned (unbounded, this fit reaches
    # cond(K) = 3e11, where scikit-learn's own one-row and batch predictions differ by 4e-9)
    "rbf-aniso": lambda d: ConstantKernel(2.0, (1e-2, 1e2)) * RBF(np.ones(d), (1e-2, 1e2))
    + WhiteKernel(0.1, (1e-3, 1e1)),
    "matern05": lambda d: Matern(nu=0.5),
    "matern15": lambda d: Matern(nu=1.5) + WhiteKernel(0.1),
    "matern25-aniso": lambda d: Matern(np.linspace(0.5, 2, d), nu=2.5),
    "matern-inf": lambda d: Matern(nu=np.inf) + WhiteKernel(),
    "rq": lambda d: RationalQuadratic() + WhiteKernel(),
    "ess": lambda d: ExpSineSquared(periodicity=8.0) + WhiteKernel(),
    "dot": lambda d: DotProduct() + WhiteKernel(),
    "power": lambda d: RBF() ** 2 + WhiteKernel(),
    "product": lambda d: (ConstantKernel(0.5) + DotProduct(0.3)) * Matern(nu=1.5)
    + WhiteKernel(),
    "fixed": lambda d: ConstantKernel(1.5, "fixed") * RBF(2.0, "fixed"),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("data", ["diabetes", "linnerud", "synthetic"])
@pytest.mark.parametrize("normalize_y", [False, True])
def test_regressor(kernel, data, normalize_y, tmp_path):
    X, y, Xt = _regression(data)
    if data == "diabetes" and kernel != "rbf":
        y = np.column_stack([y, y[::-1]]) if normalize_y else y
    model = _fit(GaussianProcessRegressor(KERNELS[kernel](X.shape[1]), normalize_y=normalize_y,
                                          random_state=0), X, y)
    m = _roundtrip(model, tmp_path)
    _close(m.predict(Xt), model.predict(Xt))
    mean, std = m.predict(Xt, return_std=True)
    ref_mean, ref_std = model.predict(Xt, return_std=True)
    _close(mean, ref_mean)
    _close_std(std, ref_std, model, Xt)
    one_mean, one_std = m.predict(Xt[:1], return_std=True)  # a single row
    _close(one_mean, ref_mean[:1])
    _close_std(one_std, ref_std[:1], model, Xt[:1])
    _close(m.predict(Xt, return_std=False), ref_mean)


@pytest.mark.parametrize("shape", ["1-D", "2-D one column", "2 targets"])
@pytest.mark.parametrize("normalize_y", [False, True])
def test_output_shapes(shape, normalize_y, tmp_path):
    """std is (n,) for one target, and also for several fitted without normalize_y (numpy's
    outer product with the scalar 1), as scikit-learn returns it."""
    X, y, Xt = _regression("synthetic")
    y = {"1-D": y[:, 0], "2-D one column": y[:, :1], "2 targets": y}[shape]
    model = _fit(GaussianProcessRegressor(RBF() + WhiteKernel(), normalize_y=normalize_y), X, y)
    m = _roundtrip(model, tmp_path)
    mean, std = m.predict(Xt, return_std=True)
    ref_mean, ref_std = model.predict(Xt, return_std=True)
    assert mean.shape == ref_mean.shape and std.shape == ref_std.shape
    _close(mean, ref_mean)
    _close_std(std, ref_std, model, Xt)
    assert isinstance(m.predict(Xt, return_std=True), tuple)


def test_negative_variance_set_to_zero(tmp_path):
    """Test rows on the training rows of a noise-free model: scikit-learn's variances round
    to tiny values of either sign and the negative ones become 0."""
    X, y, _ = _regression("synthetic")
    model = GaussianProcessRegressor(RBF(1.0, "fixed"), alpha=1e-12, optimizer=None).fit(X, y)
    m = _roundtrip(model, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, ref_std = model.predict(X, return_std=True)
    _, std = m.predict(X, return_std=True)
    assert (std >= 0).all() and np.isfinite(std).all()
    np.testing.assert_allclose(std, ref_std, rtol=0, atol=1e-6)  # both near 0 (sqrt of ~1e-12)


def test_input_kinds(tmp_path):
    X, y, Xt = _regression("diabetes")
    model = _fit(GaussianProcessRegressor(Matern(nu=2.5) + WhiteKernel(), normalize_y=True),
                 X, y)
    m = _roundtrip(model, tmp_path)
    for data in (Xt.astype(np.float32), pd.DataFrame(Xt)):
        _close(m.predict(data), model.predict(data))
        (a, sa), (b, sb) = m.predict(data, return_std=True), model.predict(data, return_std=True)
        _close(a, b)
        _close_std(sa, sb, model, Xt)
    bad = Xt.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.predict(bad)
    with pytest.raises(ValueError, match="return_cov"):
        m.predict(Xt, return_cov=True)
    for a, b in zip(m.predict(Xt, return_std=True, return_cov=False),
                    model.predict(Xt, return_std=True, return_cov=False)):
        assert a.shape == b.shape
    _close(m.predict(Xt, return_cov=False), model.predict(Xt))


def test_pipeline(tmp_path):
    X, y = datasets.load_diabetes(return_X_y=True)
    model = _fit(make_pipeline(StandardScaler(),
                               GaussianProcessRegressor(RBF() + WhiteKernel(), normalize_y=True)),
                 X[:80], y[:80])
    m = _roundtrip(model, tmp_path)
    _close(m.predict(X[80:120]), model.predict(X[80:120]))


def _classification(name):
    if name == "iris":
        X, y = datasets.load_iris(return_X_y=True)
        return X[::2], y[::2], X[1::2]
    if name == "iris-binary":
        X, y = datasets.load_iris(return_X_y=True)
        return X[::2], (y[::2] == 1), X[1::2]
    if name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        return X[::3], y[::3].astype(str), X[1::3]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = np.where(X[:, 0] + np.sin(2 * X[:, 1]) > 0, 5, -3)
    return X[:70], y[:70], X[70:]


CLASSIFIER_KERNELS = {
    "default": lambda: None,
    "rbf": lambda: ConstantKernel() * RBF(),
    "matern": lambda: Matern(nu=1.5) + WhiteKernel(0.1),
    "rq": lambda: RationalQuadratic(),
    "dot": lambda: DotProduct(),
}


@pytest.mark.parametrize("kernel", sorted(CLASSIFIER_KERNELS))
@pytest.mark.parametrize("data", ["iris", "iris-binary", "wine", "synthetic"])
def test_classifier(kernel, data, tmp_path):
    X, y, Xt = _classification(data)
    model = _fit(GaussianProcessClassifier(CLASSIFIER_KERNELS[kernel](), random_state=0), X, y)
    m = _roundtrip(model, tmp_path)
    ref = model.predict(Xt)
    got = m.predict(Xt)
    assert got.dtype == ref.dtype and (got == ref).all()
    _close(m.predict_proba(Xt), model.predict_proba(Xt))
    _close(m.predict_proba(Xt[:1]), model.predict_proba(Xt[:1]))
    x32 = Xt.astype(np.float32)
    if kernel == "dot":  # scikit-learn's float32 einsum diagonal (see the module docstring)
        np.testing.assert_allclose(m.predict_proba(x32), model.predict_proba(x32), atol=1e-5)
    else:
        _close(m.predict_proba(x32), model.predict_proba(x32))
    _close(m.predict_proba(pd.DataFrame(Xt)), model.predict_proba(pd.DataFrame(Xt)))
    assert (m.predict(Xt.astype(np.float32)) == model.predict(Xt.astype(np.float32))).all()


@pytest.mark.parametrize("kernel", ["default", "matern", "dot"])
@pytest.mark.parametrize("data", ["iris", "wine"])
def test_one_vs_one(kernel, data, tmp_path):
    """predict only: scikit-learn's predict_proba raises for one_vs_one, and the loaded model
    has no predict_proba."""
    X, y, Xt = _classification(data)
    model = _fit(GaussianProcessClassifier(CLASSIFIER_KERNELS[kernel](), random_state=0,
                                           multi_class="one_vs_one"), X, y)
    m = _roundtrip(model, tmp_path)
    for data_in in (Xt, Xt[:1], pd.DataFrame(Xt)):
        ref = model.predict(data_in)
        got = m.predict(data_in)
        assert got.dtype == ref.dtype and (got == ref).all()
    with pytest.raises(ValueError, match="one_vs_one"):
        model.predict_proba(Xt)
    with pytest.raises(AttributeError, match="predict_proba"):
        m.predict_proba(Xt)


def test_erf_matches_scipy():
    """GPLaplaceProba takes erf from the C library; scipy.special.erf agrees to 1e-15."""
    import math

    from scipy.special import erf

    v = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-300, 1, 400),
                        -np.logspace(-300, 1, 400)])
    ours = np.array([math.erf(t) for t in v])
    np.testing.assert_allclose(ours, erf(v), rtol=1e-15, atol=0)


def test_refused(tmp_path):
    X, y, _ = _regression("synthetic")
    y = y[:, 0]
    for kernel, what in [(Matern(nu=1.0), "nu"), (PairwiseKernel(), "PairwiseKernel")]:
        model = _fit(GaussianProcessRegressor(kernel), X, y)
        with pytest.raises(UnsupportedModelError, match=what):
            mle.dump(model, tmp_path / "m.mle")
    with pytest.raises((UnsupportedModelError, ValueError), match="fitted"):
        mle.dump(GaussianProcessRegressor(), tmp_path / "m.mle")
    with pytest.raises(UnsupportedModelError, match="float32"):
        mle.dump(_fit(GaussianProcessRegressor(), X.astype(np.float32), y), tmp_path / "m.mle")
