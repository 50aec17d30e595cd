"""Parity of SVC, NuSVC, SVR, NuSVR and OneClassSVM with scikit-learn (labels exact, values
within 1e-9 of the largest decision value)."""

import numpy as np
import pytest
from sklearn import datasets, svm
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


def _roundtrip(est, tmp_path):
    p = tmp_path / "m.mle"
    mle.dump(est, p)
    return mle.load(p)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("est", [
    svm.SVC(), svm.SVC(kernel="linear", decision_function_shape="ovo"),
    svm.SVC(kernel="poly", gamma=0.1, degree=2), svm.NuSVC(kernel="sigmoid", gamma=0.01),
    svm.SVC(break_ties=True), svm.NuSVC(gamma="auto", decision_function_shape="ovo")])
@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer"])
def test_classifiers(est, data, tmp_path):
    X, y = getattr(datasets, "load_" + data)(return_X_y=True)
    model = make_pipeline(StandardScaler(), est).fit(X, y)
    m = _roundtrip(model, tmp_path)
    assert np.array_equal(m.predict(X), model.predict(X))
    _close(m.decision_function(X), model.decision_function(X))
    _close(m.decision_function(X[3:4]), model.decision_function(X[3:4]))
    assert np.array_equal(m.predict(X.astype(np.float32)), model.predict(X.astype(np.float32)))


@pytest.mark.parametrize("est", [svm.SVR(C=100), svm.NuSVR(kernel="poly", gamma=0.5),
                                 svm.SVR(kernel="linear")])
def test_regressors(est, tmp_path):
    X, y = datasets.load_diabetes(return_X_y=True)
    est.fit(X, y)
    m = _roundtrip(est, tmp_path)
    _close(m.predict(X), est.predict(X))
    _close(m.predict(X[:1]), est.predict(X[:1]))


def test_one_class(tmp_path):
    X, _ = datasets.load_iris(return_X_y=True)
    est = svm.OneClassSVM(nu=0.2).fit(X)
    m = _roundtrip(est, tmp_path)
    assert np.array_equal(m.predict(X), est.predict(X))
    _close(m.decision_function(X), est.decision_function(X))
    _close(m.score_samples(X), est.score_samples(X))


def test_precomputed_refused(tmp_path):
    X, y = datasets.load_iris(return_X_y=True)
    est = svm.SVC(kernel="precomputed").fit(X @ X.T, y)
    with pytest.raises(TypeError, match="precomputed"):
        mle.dump(est, tmp_path / "m.mle")


def test_probability_true_is_refused_at_dump(tmp_path):
    import warnings

    import mle_runtime as mle
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        est = SVC(probability=True, random_state=0).fit(X, y)
    with pytest.raises(mle.UnsupportedModelError, match="probability=True"):
        mle.dump(est, tmp_path / "svc.mle")
    assert not (tmp_path / "svc.mle").exists()
