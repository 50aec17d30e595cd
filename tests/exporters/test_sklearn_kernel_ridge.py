"""Parity of KernelRidge.predict with scikit-learn, every string kernel (values within 1e-9 of
the largest prediction; the largest measured on these data: about 3e-13)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import datasets
from sklearn.kernel_ridge import KernelRidge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import mle_runtime as mle

KERNELS = [
    dict(kernel="linear"),
    dict(kernel="poly"),
    dict(kernel="polynomial", degree=2, gamma=0.5, coef0=2.0),
    dict(kernel="rbf"),
    dict(kernel="rbf", gamma=0.3),
    dict(kernel="sigmoid", gamma=0.05, coef0=0.5),
    dict(kernel="cosine"),
    dict(kernel="laplacian"),
    dict(kernel="laplacian", gamma=0.7),
    dict(kernel="chi2", gamma=0.5),
    dict(kernel="additive_chi2"),
]


def _roundtrip(est, tmp_path):
    p = tmp_path / "m.mle"
    mle.dump(est, p)
    return mle.load(p)


def _close(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * max(1.0, np.abs(b).max()))


def _data(name):
    if name == "diabetes":
        return datasets.load_diabetes(return_X_y=True)
    if name == "linnerud":  # three targets
        return datasets.load_linnerud(return_X_y=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 6)) * [1, 2, 0.5, 3, 1, 1]
    return X, np.column_stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 3]])


def _scaler(kernel):
    # the chi2 kernels take non-negative data only
    return MinMaxScaler() if "chi2" in kernel else StandardScaler()


@pytest.mark.parametrize("params", KERNELS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("data", ["diabetes", "linnerud", "synthetic"])
def test_predict(params, data, tmp_path):
    X, y = _data(data)
    model = make_pipeline(_scaler(params["kernel"]), KernelRidge(alpha=0.5, **params)).fit(X, y)
    m = _roundtrip(model, tmp_path)
    _close(m.predict(X), model.predict(X))
    _close(m.predict(X[:1]), model.predict(X[:1]))
    _close(m.predict(X[-1:]), model.predict(X[-1:]))
    X32 = X.astype(np.float32)
    try:
        expected = model.predict(X32)
    except ValueError as e:  # MinMaxScaler in float32 can go below 0: chi2 refuses that
        assert "negative" in str(e)
        with pytest.raises(ValueError, match="X contains negative values"):
            m.predict(X32)
    else:
        _close(m.predict(X32), expected)


@pytest.mark.parametrize("params", KERNELS, ids=lambda p: "-".join(map(str, p.values())))
def test_single_target_without_pipeline(params, tmp_path):
    X, y = datasets.load_diabetes(return_X_y=True)
    if "chi2" in params["kernel"]:
        X = np.abs(X)
    est = KernelRidge(alpha=0.2, **params).fit(X, y)
    assert est.dual_coef_.ndim == 1
    m = _roundtrip(est, tmp_path)
    _close(m.predict(X), est.predict(X))
    assert m.predict(X[5:6]).shape == (1,)
    np.testing.assert_array_equal(m.dual_coef_, est.dual_coef_)


def test_dataframe_input(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = datasets.load_diabetes(as_frame=True)
    X, y = frame.data, frame.target
    est = KernelRidge(kernel="laplacian", gamma=0.5, alpha=0.1).fit(X, y)
    m = _roundtrip(est, tmp_path)
    _close(m.predict(X), est.predict(X))
    _close(m.predict(X[list(reversed(X.columns))]), est.predict(X))  # columns by name
    assert isinstance(X, pd.DataFrame)


def test_chi2_refuses_negative_input_as_scikit_learn(tmp_path):
    X, y = datasets.load_diabetes(return_X_y=True)
    X = np.abs(X)
    for kernel, extra in (("chi2", {"gamma": 1.0}), ("additive_chi2", {})):
        est = KernelRidge(kernel=kernel, **extra).fit(X, y)
        m = _roundtrip(est, tmp_path)
        bad = X[:3].copy()
        bad[1, 2] = -1e-3
        with pytest.raises(ValueError, match="X contains negative values"):
            est.predict(bad)
        with pytest.raises(ValueError, match="X contains negative values"):
            m.predict(bad)
        _close(m.predict(X[:3]), est.predict(X[:3]))


def test_nan_is_refused_as_scikit_learn(tmp_path):
    X, y = datasets.load_diabetes(return_X_y=True)
    est = KernelRidge(kernel="rbf").fit(X, y)
    m = _roundtrip(est, tmp_path)
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        est.predict(bad)
    with pytest.raises(ValueError):
        m.predict(bad)


@pytest.mark.parametrize("make, fit_on, fragment", [
    (lambda: KernelRidge(kernel="precomputed"), "gram", "precomputed"),
    (lambda: KernelRidge(kernel=lambda a, b: float(a @ b)), "X", "kernel="),
    (lambda: KernelRidge(kernel="rbf"), "sparse", "sparse"),
    (lambda: KernelRidge(kernel="rbf"), "float32", "float32"),
])
def test_refused(make, fit_on, fragment, tmp_path):
    X, y = datasets.load_diabetes(return_X_y=True)
    X, y = X[:60], y[:60]
    data = {"gram": X @ X.T, "X": X, "sparse": sp.csr_matrix(X),
            "float32": X.astype(np.float32)}[fit_on]
    est = make().fit(data, y)
    with pytest.raises(mle.UnsupportedModelError, match=fragment):
        mle.dump(est, tmp_path / "m.mle")
    assert not (tmp_path / "m.mle").exists()
