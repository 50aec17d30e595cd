"""BaggingClassifier / BaggingRegressor over estimators other than trees, against scikit-learn."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import BaggingClassifier, BaggingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC

import mle_runtime as mle

RTOL, ATOL = 1e-9, 1e-12


def _classifiers():
    return {
        "logistic": LogisticRegression(max_iter=2000),
        "svc_vote": SVC(),  # no predict_proba: members vote
        "linear_svc": LinearSVC(),
        "gaussian_nb": GaussianNB(),
        "scaled_logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    }


def _check_classifier(model, proxy, X):
    for T in (X, X[:1], X.astype(np.float32)):
        np.testing.assert_array_equal(proxy.predict(T), model.predict(T))
        np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T),
                                   rtol=RTOL, atol=ATOL)
        if hasattr(model, "decision_function"):
            np.testing.assert_allclose(proxy.decision_function(T), model.decision_function(T),
                                       rtol=RTOL, atol=ATOL)
        if hasattr(model, "predict_log_proba"):
            with np.errstate(divide="ignore"):
                exp = model.predict_log_proba(T)
            np.testing.assert_allclose(proxy.predict_log_proba(T), exp, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("base", sorted(_classifiers()))
@pytest.mark.parametrize("features", [dict(max_features=1.0),
                                      dict(max_features=0.5, bootstrap_features=True)])
def test_bagging_classifier_parity(base, features, dataset, roundtrip):
    X, y = dataset("wine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BaggingClassifier(_classifiers()[base], n_estimators=6, random_state=0,
                                  **features).fit(X, y)
    _check_classifier(model, roundtrip(model), X)


def test_members_that_saw_some_classes(dataset, roundtrip):
    X, y = dataset("iris")
    # LDA takes no sample_weight, so each member is fitted on its bootstrap rows only
    model = BaggingClassifier(LinearDiscriminantAnalysis(), n_estimators=12, max_samples=8,
                              random_state=0).fit(X, y)
    assert any(len(m.classes_) < 3 for m in model.estimators_)
    proxy = roundtrip(model)
    assert hasattr(model, "decision_function")  # yet the members' shapes differ
    with pytest.raises(ValueError):
        model.decision_function(X)
    assert not hasattr(proxy, "decision_function")
    for T in (X, X[:1], X.astype(np.float32)):
        np.testing.assert_array_equal(proxy.predict(T), model.predict(T))
        np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T),
                                   rtol=RTOL, atol=ATOL)


def test_string_labels_and_dataframes(dataset, roundtrip):
    X, y = dataset("iris")
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = BaggingClassifier(LogisticRegression(max_iter=2000), n_estimators=4,
                              max_features=3, random_state=0).fit(df, names)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict(df), model.predict(df))
    np.testing.assert_array_equal(proxy.predict(df[["d", "c", "b", "a"]].iloc[:5]),
                                  model.predict(df.iloc[:5]))


@pytest.mark.parametrize("base", [Ridge(alpha=0.5), SVR(C=10.0),
                                  make_pipeline(StandardScaler(), Ridge())])
def test_bagging_regressor_parity(base, dataset, roundtrip):
    X, y = dataset("diabetes")
    model = BaggingRegressor(base, n_estimators=5, max_features=0.7, random_state=0).fit(X, y)
    proxy = roundtrip(model)
    for T in (X, X[:1], X.astype(np.float32)):
        np.testing.assert_allclose(proxy.predict(T), model.predict(T), rtol=RTOL, atol=ATOL)


def test_unsupported_member_is_named(dataset, tmp_path):
    X, y = dataset("iris")
    from sklearn.neighbors import RadiusNeighborsClassifier

    model = BaggingClassifier(RadiusNeighborsClassifier(radius=5.0), n_estimators=2,
                              random_state=0).fit(X, y)
    try:
        mle.dump(model, tmp_path / "m.mle")
    except mle.UnsupportedModelError as e:
        assert "RadiusNeighborsClassifier" in str(e)
    else:  # stored: then it must be exact
        proxy = mle.load(tmp_path / "m.mle")
        np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
