"""Parity of LabelPropagation and LabelSpreading (rbf kernel) with scikit-learn: predict
exactly, predict_proba within 1e-9 relative (the largest measured: about 6e-13), NaN where
every kernel value underflows, as in scikit-learn."""

import warnings

import numpy as np
import pytest
from sklearn import datasets
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelPropagation, LabelSpreading

import mle_runtime as mle

ESTIMATORS = [
    lambda: LabelPropagation(),
    lambda: LabelPropagation(gamma=0.5, max_iter=2000),
    lambda: LabelSpreading(gamma=2.0, alpha=0.3),
    lambda: LabelSpreading(),
]


def _roundtrip(est, tmp_path):
    p = tmp_path / "m.mle"
    mle.dump(est, p)
    return mle.load(p)


def _rel(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)


def _data(name, seed=0):
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        X, y = X[:400], y[:400]
    elif name == "synthetic":
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(200, 3))
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
    else:
        X, y = getattr(datasets, "load_" + name)(return_X_y=True)
    y = y.copy()
    y[np.random.default_rng(seed).random(len(y)) < 0.5] = -1  # unlabelled rows
    return X, y


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached; 0 / 0 in scikit-learn's own fit
        return model.fit(X, y)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer", "digits", "synthetic"])
def test_predict_and_proba(make, data, tmp_path):
    X, y = _data(data)
    model = _fit(make_pipeline(StandardScaler(), make()), X, y)
    m = _roundtrip(model, tmp_path)
    far = X[:4] * 3 + 2 * X.std(axis=0)  # rows far from every training row
    Xt = np.vstack([X, far])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba, pred = model.predict_proba(Xt), model.predict(Xt)
        proba32 = model.predict_proba(Xt.astype(np.float32))
        pred32 = model.predict(Xt.astype(np.float32))
    _rel(m.predict_proba(Xt), proba)
    assert np.array_equal(m.predict(Xt), pred)
    for r in (0, len(X) // 2, len(Xt) - 1):
        _rel(m.predict_proba(Xt[r:r + 1]), proba[r:r + 1])
        assert np.array_equal(m.predict(Xt[r:r + 1]), pred[r:r + 1])
    _rel(m.predict_proba(Xt.astype(np.float32)), proba32)
    assert np.array_equal(m.predict(Xt.astype(np.float32)), pred32)
    assert not hasattr(m, "predict_log_proba") and not hasattr(model, "predict_log_proba")


def test_underflowing_rows_are_nan_as_in_scikit_learn(tmp_path):
    X, y = _data("iris")
    est = _fit(LabelPropagation(gamma=20), X, y)
    m = _roundtrip(est, tmp_path)
    far = np.array([[50.0, 50.0, 50.0, 50.0], X[0]])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = est.predict_proba(far)
        labels = est.predict(far)
    assert np.isnan(expected[0]).all() and not np.isnan(expected[1]).any()
    _rel(m.predict_proba(far), expected)
    assert np.array_equal(m.predict(far), labels)  # argmax of a NaN row: the first class


def test_labels_and_dataframe(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = datasets.load_wine(as_frame=True)
    X = frame.data
    y = np.array([11, 3, 7])[frame.target.to_numpy()]
    y[np.random.default_rng(1).random(len(y)) < 0.4] = -1
    model = _fit(make_pipeline(StandardScaler(), LabelSpreading(gamma=1.0)), X, y)
    m = _roundtrip(model, tmp_path)
    assert list(m.classes_) == list(model.classes_)
    _rel(m.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(m.predict(X[list(reversed(X.columns))]), model.predict(X))
    assert isinstance(X, pd.DataFrame)


def test_nan_is_refused(tmp_path):
    X, y = _data("iris")
    est = _fit(LabelSpreading(), X, y)
    m = _roundtrip(est, tmp_path)
    bad = X[:2].copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError):
        est.predict(bad)
    with pytest.raises(ValueError):
        m.predict_proba(bad)


@pytest.mark.parametrize("make, fragment", [
    (lambda: LabelPropagation(kernel="knn"), "knn"),
    (lambda: LabelSpreading(kernel="knn", n_neighbors=5), "knn"),
    (lambda: LabelSpreading(kernel=lambda a, b: a @ b.T), "kernel="),
])
def test_refused(make, fragment, tmp_path):
    X, y = _data("iris")
    est = _fit(make(), X, y)
    with pytest.raises(mle.UnsupportedModelError, match=fragment):
        mle.dump(est, tmp_path / "m.mle")
    assert not (tmp_path / "m.mle").exists()


def test_float32_fit_is_refused(tmp_path):
    X, y = _data("iris")
    est = _fit(LabelSpreading(), X.astype(np.float32), y)
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(est, tmp_path / "m.mle")
