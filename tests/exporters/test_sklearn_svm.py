"""Parity of SVC, NuSVC, SVR, NuSVR and OneClassSVM with scikit-learn (labels exact, values
within 1e-9 of the largest decision value; probabilities of probability=True models within
1e-9 relative)."""

import numpy as np
import pytest
from sklearn import datasets, svm
from sklearn.ensemble import StackingClassifier, VotingClassifier
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


def _proba(est):
    """A probability=True estimator (the parameter is deprecated in scikit-learn 1.9)."""
    est.set_params(probability=True, random_state=0)
    return est


PROBA_ESTIMATORS = [
    lambda: svm.SVC(),
    lambda: svm.SVC(kernel="linear", class_weight="balanced"),
    lambda: svm.SVC(kernel="poly", degree=3, gamma=0.05, coef0=1.0, break_ties=True),
    lambda: svm.NuSVC(nu=0.1),
    lambda: svm.NuSVC(kernel="sigmoid", gamma=0.01, coef0=0.5, decision_function_shape="ovo"),
    lambda: svm.SVC(C=3.0, class_weight={0: 2.0, 1: 0.5}),
]


def _data(name):
    if name == "digits":  # ten classes: 45 pairs
        X, y = datasets.load_digits(return_X_y=True)
        return X[:500], y[:500]
    return getattr(datasets, "load_" + name)(return_X_y=True)


def _rel(a, b):
    """Values within 1e-9 relative of scikit-learn's (the largest measured: about 3e-12, on
    probabilities near libsvm's floor of 1e-7)."""
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
@pytest.mark.parametrize("make", PROBA_ESTIMATORS)
@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer", "digits"])
def test_probabilities(make, data, tmp_path):
    X, y = _data(data)
    model = make_pipeline(StandardScaler(), _proba(make())).fit(X, y)
    m = _roundtrip(model, tmp_path)
    proba = model.predict_proba(X)
    got = m.predict_proba(X)
    assert got.shape == proba.shape == (len(X), len(np.unique(y)))
    _rel(got, proba)
    _rel(m.predict_log_proba(X), model.predict_log_proba(X))
    # predict stays libsvm's vote over the decision values, not the arg-max of the
    # probabilities (test_predict_is_the_vote_not_the_probabilities has rows where they differ)
    assert np.array_equal(m.predict(X), model.predict(X))
    _close(m.decision_function(X), model.decision_function(X))
    for r in (0, len(X) // 2, len(X) - 1):
        _rel(m.predict_proba(X[r:r + 1]), model.predict_proba(X[r:r + 1]))
    X32 = X.astype(np.float32)
    _rel(m.predict_proba(X32), model.predict_proba(X32))
    _rel(m.predict_log_proba(X32[:7]), model.predict_log_proba(X32[:7]))


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
def test_predict_is_the_vote_not_the_probabilities(tmp_path):
    X, y = _data("digits")
    model = make_pipeline(StandardScaler(), _proba(svm.SVC(C=0.3))).fit(X, y)
    m = _roundtrip(model, tmp_path)
    by_proba = model.classes_[model.predict_proba(X).argmax(axis=1)]
    assert not np.array_equal(by_proba, model.predict(X))  # the case is exercised
    assert np.array_equal(m.predict(X), model.predict(X))
    assert np.array_equal(m.classes_[m.predict_proba(X).argmax(axis=1)], by_proba)


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
@pytest.mark.parametrize("labels", [np.array(["spam", "eggs"]), np.array([7, -2])])
def test_binary_probabilities_and_labels(labels, tmp_path):
    """Two classes: scikit-learn flips the decision value; probA/probB apply to libsvm's
    unflipped value, and the two columns follow classes_ (sorted)."""
    X, y = datasets.load_breast_cancer(return_X_y=True)
    y = labels[y]
    Xs = StandardScaler().fit_transform(X)
    est = _proba(svm.SVC(kernel="rbf", C=0.5)).fit(Xs, y)
    m = _roundtrip(est, tmp_path)
    assert list(m.classes_) == sorted(labels)
    _rel(m.predict_proba(Xs), est.predict_proba(Xs))
    _rel(m.predict_log_proba(Xs), est.predict_log_proba(Xs))
    assert np.array_equal(m.predict(Xs), est.predict(Xs))


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
def test_probabilities_of_a_dataframe(tmp_path):
    pd = pytest.importorskip("pandas")
    data = datasets.load_wine(as_frame=True)
    X, y = data.data, data.target
    model = make_pipeline(StandardScaler(), _proba(svm.NuSVC(nu=0.2))).fit(X, y)
    m = _roundtrip(model, tmp_path)
    _rel(m.predict_proba(X), model.predict_proba(X))
    shuffled = X[list(reversed(X.columns))]  # columns by name
    _rel(m.predict_proba(shuffled), model.predict_proba(X))
    assert isinstance(X, pd.DataFrame)
    assert np.array_equal(m.predict(X), model.predict(X))


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
def test_probability_without_fitted_estimates_is_refused(tmp_path):
    """probability switched on after a fit without it: scikit-learn's predict_proba raises
    NotFittedError, so the model is refused at dump."""
    X, y = datasets.load_iris(return_X_y=True)
    est = svm.SVC().fit(X, y)
    est.set_params(probability=True)
    with pytest.raises(mle.UnsupportedModelError, match="probA_"):
        mle.dump(est, tmp_path / "svc.mle")
    assert not (tmp_path / "svc.mle").exists()


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
def test_probability_switched_off_after_fit_has_no_proba(tmp_path):
    X, y = datasets.load_iris(return_X_y=True)
    est = _proba(svm.SVC()).fit(X, y)
    est.set_params(probability=False)
    m = _roundtrip(est, tmp_path)
    assert not hasattr(m, "predict_proba") and not hasattr(est, "predict_proba")
    assert np.array_equal(m.predict(X), est.predict(X))


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
@pytest.mark.parametrize("make", [
    lambda: VotingClassifier([("s", _proba(svm.SVC())), ("n", _proba(svm.NuSVC(nu=0.2)))],
                             voting="soft"),
    lambda: StackingClassifier([("s", _proba(svm.SVC(kernel="linear"))),
                                ("n", _proba(svm.NuSVC(nu=0.2)))], cv=3),
])
def test_probabilities_inside_meta_estimators(make, tmp_path):
    """Soft voting and stacking read the members' predict_proba."""
    X, y = _data("wine")
    model = make_pipeline(StandardScaler(), make()).fit(X, y)
    m = _roundtrip(model, tmp_path)
    _rel(m.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(m.predict(X), model.predict(X))
