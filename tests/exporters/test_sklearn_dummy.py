"""Parity of scikit-learn's dummy estimators with their .mle proxies: labels and values
exactly (with dtypes and shapes), single- and multi-output, whatever X holds (scikit-learn
never reads its values: NaN and infinity are accepted)."""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor

import mle_runtime as mle

pytestmark = pytest.mark.filterwarnings("ignore:divide by zero encountered in log")


def same(expected, got, what):
    if isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), what
        for e, g in zip(expected, got):
            same(e, g, what)
        return
    expected = np.asarray(expected)
    assert type(got) is np.ndarray, what
    assert got.shape == expected.shape and got.dtype == expected.dtype, (
        what, got.shape, expected.shape, got.dtype, expected.dtype)
    np.testing.assert_array_equal(got, expected, err_msg=what)


def inputs(X):
    yield X
    yield X[:1]
    yield X.astype(np.float32)
    yield X.tolist()
    with_nan = X.copy()
    with_nan[0, 0] = np.nan
    with_nan[1, 1] = np.inf
    yield with_nan


def check(model, proxy, X):
    for name in ("predict", "predict_proba", "predict_log_proba"):
        assert hasattr(proxy, name) == hasattr(model, name), name
        if hasattr(model, name):
            for data in inputs(X):
                same(getattr(model, name)(data), getattr(proxy, name)(data), name)
    for name in ("decision_function", "transform", "predict_joint_log_proba"):
        assert not hasattr(proxy, name)


CLASSIFIERS = [
    lambda y: DummyClassifier(strategy="prior"),
    lambda y: DummyClassifier(strategy="most_frequent"),
    lambda y: DummyClassifier(strategy="constant", constant=y[len(y) // 2]),
]


@pytest.mark.parametrize("make", CLASSIFIERS, ids=["prior", "most_frequent", "constant"])
@pytest.mark.parametrize("data", ["iris", "breast_cancer", "clf_multiclass"])
def test_classifier(make, data, dataset, roundtrip):
    X, y = dataset(data)
    model = make(y).fit(X, y)
    proxy = roundtrip(model)
    check(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    np.testing.assert_array_equal(proxy.class_prior_, model.class_prior_)


def test_classifier_labels_of_other_types(dataset, roundtrip):
    X, y = dataset("iris")
    for labels in (np.array([-3, 10, 4]), np.array([0.5, 1.5, -2.0]),
                   np.array([False, True, True]), np.array([3, 1, 2], dtype=np.int32)):
        for strategy in ("prior", "most_frequent"):
            model = DummyClassifier(strategy=strategy).fit(X, labels[y])
            check(model, roundtrip(model), X)
    model = DummyClassifier(strategy="constant", constant=2).fit(X, y.astype(np.int32))
    check(model, roundtrip(model), X)  # predict returns the constant's int64, as sklearn does


def test_classifier_string_labels(dataset, roundtrip):
    X, y = dataset("iris")
    names = np.array(["aa", "b", "cccc"])[y]
    model = DummyClassifier(strategy="prior").fit(X, names)
    proxy = roundtrip(model)
    for name in ("predict_proba", "predict_log_proba"):
        same(getattr(model, name)(X), getattr(proxy, name)(X), name)
    # the same labels; scikit-learn's np.tile narrows the string dtype to the label's width
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
    assert proxy.predict(X).dtype.kind == "U"


@pytest.mark.parametrize("strategy", ["prior", "most_frequent", "constant"])
def test_multi_output_classifier(strategy, dataset, roundtrip):
    X, y = dataset("wine")
    Y = np.c_[y, (y + 1) % 2, y * 10]
    kw = {"constant": [1, 0, 20]} if strategy == "constant" else {}
    model = DummyClassifier(strategy=strategy, **kw).fit(X, Y)
    proxy = roundtrip(model)
    check(model, proxy, X)
    assert len(proxy.classes_) == 3


@pytest.mark.parametrize("strategy", ["stratified", "uniform"])
def test_random_strategies_are_refused(strategy, dataset, tmp_path):
    X, y = dataset("iris")
    model = DummyClassifier(strategy=strategy, random_state=0).fit(X, y)
    with pytest.raises(mle.UnsupportedModelError, match=f"strategy='{strategy}'.*random"):
        mle.dump(model, tmp_path / "m.mle")
    assert not (tmp_path / "m.mle").exists()


REGRESSORS = [
    DummyRegressor(),
    DummyRegressor(strategy="median"),
    DummyRegressor(strategy="quantile", quantile=0.3),
    DummyRegressor(strategy="quantile", quantile=1.0),
    DummyRegressor(strategy="constant", constant=5.0),
    DummyRegressor(strategy="constant", constant=3),
]


@pytest.mark.parametrize("model", REGRESSORS, ids=repr)
@pytest.mark.parametrize("data", ["diabetes", "regression", "regression_multi3"])
def test_regressor(model, data, dataset, roundtrip):
    X, y = dataset(data)
    if model.strategy == "constant" and y.ndim == 2:
        model = DummyRegressor(strategy="constant", constant=[1.0, -2.5, 3.0])
    model.fit(X, y)
    proxy = roundtrip(model)
    check(model, proxy, X)
    np.testing.assert_array_equal(proxy.constant_, model.constant_)


def test_regressor_column_target(dataset, roundtrip):
    X, y = dataset("diabetes")
    model = DummyRegressor().fit(X, y.reshape(-1, 1))
    check(model, roundtrip(model), X)
