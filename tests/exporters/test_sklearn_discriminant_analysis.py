"""Parity of LinearDiscriminantAnalysis and QuadraticDiscriminantAnalysis with their .mle
proxies: labels exactly (with dtype), every float output within 1e-9 relative plus 1e-9
times the row's largest decision value absolute (``predict_log_proba`` of a class whose
probability is 1 is a difference of such numbers). float64/float32, single rows, int, list,
Fortran order, strided and pandas input."""

import numpy as np
import pytest
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)

import mle_runtime as mle

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples", "predict_joint_log_proba")


def variants(X):
    n = X.shape[0]
    yield "float64", X
    yield "first row", X[:1]
    yield "last row", X[n - 1:]
    yield "float32", X.astype(np.float32)
    yield "int64", np.round(X * 4).astype(np.int64)
    yield "list", X[:7].tolist()
    yield "fortran order", np.asfortranarray(X)
    yield "strided", X[::2]


def check(model, proxy, X, skip=()):
    for name in METHODS:
        if name in skip:
            continue
        assert hasattr(proxy, name) == hasattr(model, name), name
        if not hasattr(model, name):
            continue
        for label, data in variants(X):
            expected = np.asarray(getattr(model, name)(data))
            got = getattr(proxy, name)(data)
            what = f"{type(model).__name__}.{name} on {label}"
            assert type(got) is np.ndarray and got.shape == expected.shape, what
            assert got.dtype == expected.dtype, what
            if expected.dtype.kind != "f":
                np.testing.assert_array_equal(got, expected, err_msg=what)
                continue
            d = np.asarray(model.decision_function(data)).reshape(len(expected), -1)
            scale = np.abs(d).max(axis=1, keepdims=True) if name != "transform" else \
                np.abs(expected).max()
            atol = 1e-12 if name == "predict_proba" else 1e-9 * np.maximum(scale, 1.0)
            assert np.all(np.abs(got - expected) <= 1e-9 * np.abs(expected) + atol), what


LDA = {
    "svd": lambda: LinearDiscriminantAnalysis(),
    "svd(n_components=1)": lambda: LinearDiscriminantAnalysis(n_components=1),
    "lsqr": lambda: LinearDiscriminantAnalysis(solver="lsqr"),
    "lsqr(shrinkage=auto)": lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    "eigen": lambda: LinearDiscriminantAnalysis(solver="eigen", shrinkage=1e-4),
    "eigen(shrinkage=0.3)": lambda: LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.3),
    "svd(priors)": lambda: LinearDiscriminantAnalysis(priors=None, tol=1e-6),
}
DATA = ["iris", "wine", "breast_cancer", "clf_binary", "clf_multiclass"]


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("name", list(LDA))
def test_lda(name, data, dataset, roundtrip):
    X, y = dataset(data)
    model = LDA[name]().fit(X, y)
    proxy = roundtrip(model)
    # lsqr: scikit-learn has a transform that raises NotImplementedError; the proxy has none
    check(model, proxy, X, skip=("transform",) if model.solver == "lsqr" else ())
    if model.solver == "lsqr":
        assert not hasattr(proxy, "transform")
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    np.testing.assert_array_equal(proxy.coef_, model.coef_)


def test_lda_zero_probability_becomes_smallest_normal(roundtrip):
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 40]
    y = np.repeat([0, 1], 50)
    model = LinearDiscriminantAnalysis().fit(X, y)
    far = np.array([[-500.0, -500.0], [500.0, 500.0]])
    expected = model.predict_log_proba(far)
    assert np.isfinite(expected).all() and expected.min() < -700
    np.testing.assert_allclose(roundtrip(model).predict_log_proba(far), expected, rtol=1e-9)


QDA = {
    "default": lambda: QuadraticDiscriminantAnalysis(reg_param=1e-3),
    "reg_param=0.5": lambda: QuadraticDiscriminantAnalysis(reg_param=0.5),
    "priors": lambda: None,
}


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("name", ["default", "reg_param=0.5", "priors"])
def test_qda(name, data, dataset, roundtrip):
    X, y = dataset(data)
    if name == "priors":
        k = len(np.unique(y))
        model = QuadraticDiscriminantAnalysis(priors=np.arange(1, k + 1) / (k * (k + 1) / 2),
                                              reg_param=1e-3)
    else:
        model = QDA[name]()
    model.fit(X, y)
    proxy = roundtrip(model)
    check(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


@pytest.mark.parametrize("cls", [LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis])
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_nan_refused_and_string_labels_and_pandas(cls, dataset, roundtrip):
    pd = pytest.importorskip("pandas")
    X, y = dataset("wine")
    names = np.array(["a", "bb", "c"])[y]
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    model = cls().fit(df, names)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict(df), model.predict(df))
    np.testing.assert_allclose(proxy.predict_proba(df), model.predict_proba(df), rtol=1e-9,
                               atol=1e-12)
    bad = X[:2].copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.predict(bad)


@pytest.mark.parametrize("cls", [LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis])
def test_float32_fitted_models_are_refused(cls, dataset, tmp_path):
    X, y = dataset("iris", dtype=np.float32)
    model = cls().fit(X, y)
    if cls is QuadraticDiscriminantAnalysis and model.means_.dtype == np.float64:
        pytest.skip("this scikit-learn fits QDA in float64")
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(model, tmp_path / "m.mle")
