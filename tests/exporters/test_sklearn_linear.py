"""Parity of scikit-learn's linear models with their .mle proxies.

Every case fits the real estimator, dumps it, loads it and compares every prediction method
(labels exactly with dtype, floats within 1e-9) on the whole dataset, single rows, float32,
int, list, Fortran-ordered and strided input (see ``assert_parity`` in conftest.py).
SGD-type models are trained on standardised features, the way they are meant to be used, so
that decision values stay in a range where 1e-9 is a meaningful absolute tolerance.
"""

import numpy as np
import pytest
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    Perceptron,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC, LinearSVR

import mle_runtime as mle

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # scikit-learn's predict_log_proba is np.log(predict_proba): log(0) warns
    pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning"),
]

CLASSIFIERS = {
    "LogisticRegression": lambda: LogisticRegression(max_iter=300),
    "LogisticRegression(C=0.1,no-intercept)": lambda: LogisticRegression(
        C=0.1, fit_intercept=False, max_iter=300),
    "OvR(LogisticRegression)": lambda: OneVsRestClassifier(LogisticRegression(max_iter=300)),
    "OvR(LinearSVC)": lambda: OneVsRestClassifier(LinearSVC(max_iter=300)),
    "SGDClassifier(hinge)": lambda: SGDClassifier(loss="hinge", max_iter=50, random_state=0),
    "SGDClassifier(log_loss)": lambda: SGDClassifier(loss="log_loss", max_iter=50,
                                                     random_state=0),
    "SGDClassifier(modified_huber)": lambda: SGDClassifier(loss="modified_huber", max_iter=50,
                                                           random_state=0),
    "Perceptron": lambda: Perceptron(max_iter=50, random_state=0),
    "LinearSVC": lambda: LinearSVC(max_iter=300),
    "RidgeClassifier": lambda: RidgeClassifier(),
}

# (dataset, standardise X before fitting); binary: breast_cancer, clf_binary.
CLASSIFICATION_DATA = [
    ("iris", False),
    ("wine", True),
    ("breast_cancer", True),
    ("clf_binary", False),
    ("clf_multiclass", False),
]

REGRESSORS = {
    "LinearRegression": lambda: LinearRegression(),
    "LinearRegression(no-intercept)": lambda: LinearRegression(fit_intercept=False),
    "Ridge": lambda: Ridge(alpha=0.5),
    "Lasso": lambda: Lasso(alpha=0.1, max_iter=200),
    "ElasticNet": lambda: ElasticNet(alpha=0.1, l1_ratio=0.3, max_iter=200),
    "SGDRegressor": lambda: SGDRegressor(max_iter=50, random_state=0),
    "LinearSVR": lambda: LinearSVR(max_iter=300, random_state=0),
}

REGRESSION_DATA = ["diabetes", "regression"]


@pytest.mark.parametrize("data,scaled", CLASSIFICATION_DATA,
                         ids=[d for d, _ in CLASSIFICATION_DATA])
@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifier_parity(name, data, scaled, dataset, roundtrip, assert_parity):
    X, y = dataset(data, scaled=scaled)
    model = CLASSIFIERS[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    assert proxy.classes_.dtype == model.classes_.dtype
    assert proxy.n_features_in_ == model.n_features_in_ == X.shape[1]
    assert proxy.get_model_info()["estimator_type"] == "classifier"


@pytest.mark.parametrize("data", ["iris", "breast_cancer"])
def test_classifier_methods_match_sklearn(data, dataset, roundtrip):
    # The exact set of methods, per model, as scikit-learn decides it (available_if).
    X, y = dataset(data, scaled=True)
    for name, make in CLASSIFIERS.items():
        model = make().fit(X, y)
        proxy = roundtrip(model)
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function",
                       "transform", "score_samples"):
            assert hasattr(proxy, method) == hasattr(model, method), (name, method)


def test_expected_probability_methods(dataset, roundtrip):
    # Spell out the important cases rather than only mirroring hasattr.
    X, y = dataset("iris", scaled=True)
    expect = {
        "LogisticRegression": True, "OvR(LogisticRegression)": True,
        "SGDClassifier(log_loss)": True, "SGDClassifier(modified_huber)": True,
        "SGDClassifier(hinge)": False, "Perceptron": False, "LinearSVC": False,
        "RidgeClassifier": False, "OvR(LinearSVC)": False,
    }
    for name, has_proba in expect.items():
        proxy = roundtrip(CLASSIFIERS[name]().fit(X, y))
        assert hasattr(proxy, "predict_proba") is has_proba, name
        assert hasattr(proxy, "decision_function"), name
        if not has_proba:
            with pytest.raises(AttributeError, match="predict_proba"):
                proxy.predict_proba(X)


@pytest.mark.parametrize("data", REGRESSION_DATA)
@pytest.mark.parametrize("name", list(REGRESSORS))
def test_regressor_parity(name, data, dataset, roundtrip, assert_parity):
    scaled = name in ("SGDRegressor", "LinearSVR")
    X, y = dataset(data, scaled=scaled)
    model = REGRESSORS[name]().fit(X, y)
    proxy = roundtrip(model)
    assert assert_parity(model, proxy, X) == ["predict"]
    assert proxy.predict(X).shape == (X.shape[0],)
    assert proxy.get_model_info()["estimator_type"] == "regressor"
    with pytest.raises(AttributeError):
        proxy.classes_


@pytest.mark.parametrize("n_targets", [3, 1])
@pytest.mark.parametrize("name", ["LinearRegression", "Ridge", "Lasso", "ElasticNet"])
def test_multi_target_regression(name, n_targets, dataset, roundtrip, assert_parity):
    X, Y = dataset("regression_multi3")
    Y = Y[:, :n_targets]
    assert Y.shape == (X.shape[0], n_targets)
    model = REGRESSORS[name]().fit(X, Y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    # shape as scikit-learn returns it: (n, 3), and for a (n, 1) target whatever the model
    # keeps ((n, 1) for LinearRegression, (n,) for Ridge).
    assert proxy.predict(X).shape == model.predict(X).shape
    assert proxy.predict(X[:1]).shape == model.predict(X[:1]).shape


def test_multi_target_shapes_spelled_out(dataset, roundtrip):
    X, Y = dataset("regression_multi3")
    lr3 = roundtrip(LinearRegression().fit(X, Y))
    assert lr3.predict(X).shape == (X.shape[0], 3)
    assert lr3.predict(X[:1]).shape == (1, 3)
    lr1 = roundtrip(LinearRegression().fit(X, Y[:, :1]))
    assert lr1.predict(X[:1]).shape == LinearRegression().fit(X, Y[:, :1]).predict(X[:1]).shape


@pytest.mark.parametrize("data", ["breast_cancer", "clf_binary"])
def test_binary_shapes(data, dataset, roundtrip):
    X, y = dataset(data, scaled=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    proxy = roundtrip(model)
    assert proxy.decision_function(X).shape == (X.shape[0],)
    assert proxy.decision_function(X[:1]).shape == (1,)
    assert proxy.predict_proba(X).shape == (X.shape[0], 2)
    np.testing.assert_allclose(proxy.predict_proba(X).sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert proxy.predict(X).dtype == model.predict(X).dtype


def test_multinomial_logistic_regression_is_softmax(dataset, roundtrip):
    X, y = dataset("wine", scaled=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    proxy = roundtrip(model)
    d = proxy.decision_function(X)
    e = np.exp(d - d.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proxy.predict_proba(X), e / e.sum(axis=1, keepdims=True),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(proxy.predict_log_proba(X), model.predict_log_proba(X),
                               rtol=0, atol=1e-9)


def test_modified_huber_zero_rows_become_uniform(roundtrip):
    # modified_huber probabilities are exactly 0 for every class when all decision values are
    # <= -1; scikit-learn then returns the uniform distribution.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = np.repeat([0, 1, 2], [70, 70, 60])
    X[y == 0, 0] += 5
    X[y == 1, 1] += 5
    X[y == 2, 2] += 5
    model = SGDClassifier(loss="modified_huber", max_iter=50, random_state=0).fit(X, y)
    candidates = rng.normal(scale=30.0, size=(2000, 3))
    all_low = (model.decision_function(candidates) <= -1).all(axis=1)
    assert all_low.sum() >= 1  # the case under test really happens
    far = np.vstack([candidates[all_low][:5], candidates[~all_low][:5]])
    expected = model.predict_proba(far)
    np.testing.assert_array_equal(expected[0], [1 / 3] * 3)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict_proba(far), expected)


@pytest.mark.parametrize("name", ["LinearRegression", "Ridge", "LogisticRegression"])
def test_fitted_on_float32(name, dataset, roundtrip):
    # Coefficients are float32 when fitted on float32 data: scikit-learn's output then follows
    # the input dtype (float32 @ float32 in float32; float64 input gives float64). scikit-learn
    # accumulates float32 products in float32 (BLAS order), we accumulate in float64, so float32
    # outputs agree to float32 precision, float64 outputs to 1e-9.
    X, y = dataset("iris", dtype=np.float32)
    if name == "LogisticRegression":
        model = LogisticRegression(max_iter=300).fit(X, y)
        methods = ("predict", "decision_function", "predict_proba")
    else:
        model = {"LinearRegression": LinearRegression, "Ridge": Ridge}[name]().fit(
            X, y.astype(np.float32))
        methods = ("predict",)
    assert model.coef_.dtype == np.float32
    proxy = roundtrip(model)
    for method in methods:
        for data, atol in ((X, 1e-5), (X.astype(np.float64), 1e-9)):
            expected = getattr(model, method)(data)
            got = getattr(proxy, method)(data)
            assert got.dtype == expected.dtype, (method, data.dtype)
            assert got.shape == expected.shape
            if expected.dtype.kind == "f":
                np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
            elif method == "predict":
                # labels may only differ where float32 rounding flips a near tie
                assert np.mean(got == expected) > 0.99


@pytest.mark.parametrize("data", ["iris", "breast_cancer"])
@pytest.mark.parametrize("name", list(CLASSIFIERS) + list(REGRESSORS))
def test_fitted_on_float32_output_dtypes(name, data, dataset, roundtrip):
    # Output dtype follows numpy's promotion of X @ coef_.T + intercept_ in each model's own
    # decision function (SGD keeps a float64 intercept_ next to float32 coef_, for example).
    X, y = dataset(data, scaled=True, dtype=np.float32)
    if name in REGRESSORS:
        model = REGRESSORS[name]().fit(X, y.astype(np.float32))
    else:
        model = CLASSIFIERS[name]().fit(X, y)
    proxy = roundtrip(model)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        if not hasattr(model, method):
            continue
        for data_in in (X, X[:1], X.astype(np.float64)):
            expected = getattr(model, method)(data_in)
            got = getattr(proxy, method)(data_in)
            assert got.dtype == expected.dtype, (method, data_in.dtype)
            assert got.shape == expected.shape
            if expected.dtype.kind != "f":
                continue
            if expected.dtype == np.float64 and data_in.dtype == np.float64:
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
            else:
                # float32 arithmetic in scikit-learn (BLAS order, float32 sums) against our
                # float64 accumulation: agreement to float32 precision; log-probabilities are
                # compared as probabilities (log(1 - p) amplifies float32 rounding).
                if method == "predict_log_proba":
                    got, expected = np.exp(got), np.exp(expected)
                np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-5)


def test_ovr_fitted_on_float32_keeps_dtype(dataset, roundtrip):
    X, y = dataset("iris", scaled=True, dtype=np.float32)
    model = OneVsRestClassifier(LogisticRegression(max_iter=300)).fit(X, y)
    proxy = roundtrip(model)
    for method in ("decision_function", "predict_proba"):
        for data in (X, X.astype(np.float64)):
            assert getattr(proxy, method)(data).dtype == getattr(model, method)(data).dtype


@pytest.mark.parametrize("make", [
    lambda: OneVsRestClassifier(LogisticRegression(max_iter=300)),
    lambda: OneVsRestClassifier(LinearSVC(max_iter=300)),
], ids=["OvR(LogisticRegression)", "OvR(LinearSVC)"])
def test_ovr_binary(make, dataset, roundtrip, assert_parity):
    # Two classes: one binary estimator; decision_function is 1-D, predict_proba stacks [1-p, p].
    X, y = dataset("breast_cancer", scaled=True)
    model = make().fit(X, y)
    assert len(model.estimators_) == 1
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    assert proxy.decision_function(X).ndim == 1


@pytest.mark.parametrize("labels", [
    np.array(["setosa", "versicolor", "virginica"]),
    np.array(["setosa", "versicolor", "virginica"], dtype=object),
    np.array([-7, 3, 40]),
    np.array([2.0, -1.0, 7.0]),
    np.array([5, 0, 200], dtype=np.uint8),
], ids=["str-U", "str-object", "int", "float", "uint8"])
@pytest.mark.parametrize("name", ["LogisticRegression", "OvR(LogisticRegression)",
                                  "SGDClassifier(log_loss)", "LinearSVC", "RidgeClassifier"])
def test_label_types(name, labels, dataset, roundtrip):
    X, y = dataset("iris", scaled=True)
    yl = labels[y]
    model = CLASSIFIERS[name]().fit(X, yl)
    proxy = roundtrip(model)
    assert proxy.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    for data in (X, X[:1], X[75:76]):
        got, expected = proxy.predict(data), model.predict(data)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["LogisticRegression", "SGDClassifier(modified_huber)",
                                  "LinearSVC", "RidgeClassifier", "OvR(LogisticRegression)"])
def test_bool_labels(name, dataset, roundtrip):
    X, y = dataset("breast_cancer", scaled=True)
    model = CLASSIFIERS[name]().fit(X, y == 1)
    assert model.classes_.dtype == np.bool_
    proxy = roundtrip(model)
    assert proxy.classes_.dtype == np.bool_
    np.testing.assert_array_equal(proxy.classes_, [False, True])
    got = proxy.predict(X)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, model.predict(X))


def test_nan_refused_by_linear_models(dataset, roundtrip):
    X, y = dataset("iris")
    bad = X[:5].copy()
    bad[2, 1] = np.nan
    for model in (LogisticRegression(max_iter=300).fit(X, y), Ridge().fit(X, y),
                  OneVsRestClassifier(LinearSVC(max_iter=300)).fit(X, y)):
        with pytest.raises(ValueError, match="NaN"):
            model.predict(bad)
        proxy = roundtrip(model)
        with pytest.raises(mle.InputError, match="NaN") as info:
            proxy.predict(bad)
        assert isinstance(info.value, ValueError)
        inf = X[:5].copy()
        inf[0, 0] = -np.inf
        with pytest.raises(ValueError, match="infinity"):
            proxy.predict(inf)


@pytest.mark.parametrize("make", [
    lambda: OneVsRestClassifier(SGDClassifier(loss="modified_huber", max_iter=50,
                                              random_state=0)),
    lambda: OneVsRestClassifier(SGDClassifier(loss="log_loss", max_iter=50, random_state=0)),
    lambda: OneVsRestClassifier(Perceptron(max_iter=50, random_state=0)),
    lambda: OneVsRestClassifier(RidgeClassifier()),
    lambda: LogisticRegressionCV(cv=3, max_iter=100, l1_ratios=(0.0,), scoring="neg_log_loss",
                                 use_legacy_attributes=False),
    lambda: RidgeClassifierCV(),
], ids=["OvR(SGD-modified_huber)", "OvR(SGD-log_loss)", "OvR(Perceptron)",
        "OvR(RidgeClassifier)", "LogisticRegressionCV", "RidgeClassifierCV"])
@pytest.mark.parametrize("data", ["wine", "breast_cancer"])
def test_more_classifiers(make, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data, scaled=True)
    model = make().fit(X, y)
    assert_parity(model, roundtrip(model), X)


@pytest.mark.parametrize("make", [RidgeCV, lambda: LassoCV(cv=3, max_iter=200)],
                         ids=["RidgeCV", "LassoCV"])
def test_more_regressors(make, dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    model = make().fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_ovr_modified_huber_keeps_zero_rows(roundtrip):
    # OneVsRestClassifier divides by the row sum only where it is not zero: an all-zero row of
    # modified_huber probabilities stays all zero (SGDClassifier itself makes it uniform).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.repeat([0, 1, 2], 100)
    for k in range(3):
        X[y == k, k] += 5
    model = OneVsRestClassifier(SGDClassifier(loss="modified_huber", max_iter=50,
                                              random_state=0)).fit(X, y)
    candidates = rng.normal(scale=30.0, size=(2000, 3))
    all_low = (model.decision_function(candidates) <= -1).all(axis=1)
    assert all_low.any()
    far = np.vstack([candidates[all_low][:5], candidates[~all_low][:5]])
    expected = model.predict_proba(far)
    np.testing.assert_array_equal(expected[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(roundtrip(model).predict_proba(far), expected)


def test_multilabel_is_refused(tmp_path):
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=60, random_state=0)
    for model in (OneVsRestClassifier(LogisticRegression(max_iter=100)), RidgeClassifier()):
        model.fit(X, Y)
        with pytest.raises(mle.UnsupportedModelError, match="multilabel"):
            mle.dump(model, tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


def test_subclass_of_supported_model_is_refused(dataset, tmp_path):
    class MyLogisticRegression(LogisticRegression):
        def predict(self, X):
            return super().predict(X)[::-1]

    X, y = dataset("iris")
    with pytest.raises(mle.UnsupportedModelError, match="MyLogisticRegression"):
        mle.dump(MyLogisticRegression(max_iter=100).fit(X, y), tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


def _frame(X):
    import pandas as pd

    return pd.DataFrame(X, columns=[f"feature {i}" for i in range(X.shape[1])])


@pytest.mark.parametrize("name", list(CLASSIFIERS) + list(REGRESSORS))
def test_dataframe_input(name, dataset, roundtrip, assert_same):
    is_clf = name in CLASSIFIERS
    X, y = dataset("wine" if is_clf else "diabetes", scaled=True)
    df = _frame(X)
    model = (CLASSIFIERS if is_clf else REGRESSORS)[name]().fit(df, y)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    cols = list(df.columns)
    shuffled = df[cols[5:] + cols[:5][::-1]]
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        if not hasattr(model, method):
            continue
        expected = getattr(model, method)(df)
        assert_same(expected, getattr(proxy, method)(df), f"{method} on a DataFrame")
        assert_same(expected, getattr(proxy, method)(shuffled), f"{method}, shuffled columns")
        assert_same(getattr(model, method)(df.iloc[[2]]), getattr(proxy, method)(df.iloc[[2]]))
    with pytest.raises(mle.InputError, match="feature 3"):
        proxy.predict(df.drop(columns=["feature 3"]))
