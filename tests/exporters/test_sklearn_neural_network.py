"""Parity of MLPClassifier and MLPRegressor with their .mle proxies.

Every case fits the real estimator, dumps, loads and compares every prediction method with
``assert_parity`` (labels exactly with their dtype; probabilities, log-probabilities and
regression values within 1e-9 absolute, which on these outputs is within 1e-9 relative or
tighter) on the whole dataset, single rows, float32, int, list, Fortran-ordered and strided
input, and on pandas input. Covered: every hidden activation, each output activation
(softmax: multiclass, logistic: binary and multilabel, identity: regression), one and
several hidden layers.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning"),
]

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("data", ["iris", "breast_cancer", "digits", "clf_multiclass"])
def test_classifier_parity(activation, data, dataset, roundtrip, assert_parity):
    if data == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = X.astype(np.float64)
    else:
        X, y = dataset(data, scaled=True)
    model = MLPClassifier(hidden_layer_sizes=(16, 8), activation=activation, max_iter=60, random_state=0)
    model.fit(X, y)
    proxy = roundtrip(model)
    checked = assert_parity(model, proxy, X)
    assert {"predict", "predict_proba", "predict_log_proba"} <= set(checked)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_classifier_string_labels(dataset, roundtrip, assert_parity):
    X, y = dataset("wine", scaled=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    model = MLPClassifier(hidden_layer_sizes=(10,), max_iter=80, random_state=1).fit(X, labels)
    assert_parity(model, roundtrip(model), X)


def test_binary_classifier_is_logistic(dataset, roundtrip, assert_parity):
    X, y = dataset("breast_cancer", scaled=True)
    model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=100, random_state=0).fit(X, y)
    assert model.out_activation_ == "logistic"
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    # ties at p == 0.5 and the threshold side: predict is classes[p > 0.5]
    p = proxy.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(proxy.predict(X), model.classes_[(p > 0.5).astype(int)])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_multilabel_classifier(activation, roundtrip, assert_parity):
    X, Y = make_multilabel_classification(n_samples=300, n_features=12, n_classes=4,
                                          random_state=0)
    model = MLPClassifier(hidden_layer_sizes=(12,), activation=activation, max_iter=80, random_state=0).fit(X, Y)
    assert model.out_activation_ == "logistic"
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    assert proxy.predict(X).dtype == model.predict(X).dtype == np.int64


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("data", ["diabetes", "regression", "regression_multi3"])
def test_regressor_parity(activation, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data, scaled=True)
    y = (y - y.mean(axis=0)) / y.std(axis=0)
    model = MLPRegressor(hidden_layer_sizes=(20, 10), activation=activation, max_iter=80, random_state=0)
    model.fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_poisson_regressor_exp_output(dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes", scaled=True)
    model = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=80,
                         random_state=0).fit(X, y / y.mean())
    assert model.out_activation_ == "exp"
    assert_parity(model, roundtrip(model), X)


def test_pipeline_and_dataframe(dataset, roundtrip, assert_same):
    X, y = dataset("wine")
    cols = [f"f{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=cols)
    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=80, random_state=0))
    model.fit(df, y)
    proxy = roundtrip(model)
    assert_same(model.predict(df), proxy.predict(df))
    assert_same(model.predict_proba(df), proxy.predict_proba(df))
    assert_same(model.predict_proba(df[cols[::-1]][cols]), proxy.predict_proba(df[cols[::-1]]))


def test_nan_is_refused_as_scikit_learn_refuses_it(dataset, roundtrip):
    X, y = dataset("iris", scaled=True)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X, y)
    proxy = roundtrip(model)
    bad = X[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError):
        model.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.predict(bad)


def test_fast_paths_equal_the_reference(dataset, roundtrip):
    """The vectorised one-row kernel and the OpenBLAS batch path against the scalar
    reference, end to end."""
    from mle_runtime import _native

    X, y = dataset("clf_multiclass", scaled=True)
    model = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=60, random_state=0).fit(X, y)
    proxy = roundtrip(model)
    fast = proxy.predict_proba(X)
    rows = np.vstack([proxy.predict_proba(X[i:i + 1]) for i in range(0, len(X), 7)])
    old = _native.dense_reference(True)
    try:
        ref = proxy.predict_proba(X)
        ref_rows = np.vstack([proxy.predict_proba(X[i:i + 1]) for i in range(0, len(X), 7)])
    finally:
        _native.dense_reference(old)
    np.testing.assert_array_equal(rows, ref_rows)  # own kernels: the reference's bits
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-15)


def test_float32_fitted_model_is_refused(dataset, tmp_path):
    X, y = dataset("iris", scaled=True, dtype=np.float32)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X, y)
    if model.coefs_[0].dtype != np.float32:
        pytest.skip("this scikit-learn fits float32 data in float64")
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(model, tmp_path / "m.mle")


def test_fitted_attributes(dataset, roundtrip):
    X, y = dataset("iris", scaled=True)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X, y)
    proxy = roundtrip(model)
    for a, b in zip(proxy.coefs_, model.coefs_):
        np.testing.assert_array_equal(a, b)
    assert proxy.n_layers_ == model.n_layers_
    assert proxy.out_activation_ == model.out_activation_
