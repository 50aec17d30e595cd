"""Multi-class SVC and NuSVC through OvoPairSums (libsvm's per-pair sums over the compact dual
coefficients): labels exact, pair values and the "ovr" decision function within 1e-9 of the
largest value (measured: at most 3e-14 absolute on digits; the remaining differences come from
the kernel values, libsvm computing its dot products with BLAS), on real and synthetic data,
float32 and float64, single rows and DataFrames."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets, svm
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


def _roundtrip(est, tmp_path):
    p = tmp_path / "m.mle"
    mle.dump(est, p)
    return mle.load(p), p


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * max(1.0, np.abs(b).max()))


def _check(model, m, X):
    assert np.array_equal(m.predict(X), model.predict(X))
    _close(m.decision_function(X), model.decision_function(X))
    for r in (0, len(X) // 2, len(X) - 1):
        assert np.array_equal(m.predict(X[r:r + 1]), model.predict(X[r:r + 1]))
        _close(m.decision_function(X[r:r + 1]), model.decision_function(X[r:r + 1]))
    X32 = X.astype(np.float32)
    assert np.array_equal(m.predict(X32), model.predict(X32))
    _close(m.decision_function(X32), model.decision_function(X32))


def _digits():
    X, y = datasets.load_digits(return_X_y=True)
    return X, y


@pytest.mark.parametrize("est", [
    svm.SVC(), svm.SVC(kernel="linear", decision_function_shape="ovo"),
    svm.SVC(kernel="poly", degree=3, decision_function_shape="ovo"),
    svm.SVC(kernel="sigmoid", gamma=0.01, break_ties=True),
    svm.NuSVC(nu=0.2, decision_function_shape="ovo"),
    svm.NuSVC(kernel="poly", degree=2, gamma="auto", coef0=1.0),
    svm.SVC(C=0.5, class_weight="balanced", decision_function_shape="ovo")])
def test_digits(est, tmp_path):
    X, y = _digits()
    model = make_pipeline(StandardScaler(), est).fit(X, y)
    m, _ = _roundtrip(model, tmp_path)
    _check(model, m, X)


def test_many_classes_and_uneven_counts(tmp_path):
    X, y = datasets.make_classification(n_samples=900, n_features=12, n_informative=10,
                                        n_classes=15, n_clusters_per_class=1,
                                        weights=np.linspace(1, 6, 15) / np.linspace(1, 6, 15).sum(),
                                        random_state=3)
    est = svm.SVC(C=3.0, decision_function_shape="ovo").fit(X, y)
    assert len(set(est.n_support_)) > 1
    m, _ = _roundtrip(est, tmp_path)
    _check(est, m, X)
    # Far from the data most pairs vote alike and votes tie: the first class of the most votes.
    far = np.random.default_rng(0).normal(size=(500, 12)) * 20
    _check(est, m, far)


def test_string_labels_and_dataframe(tmp_path):
    X, y = datasets.load_wine(return_X_y=True, as_frame=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[y.to_numpy()]
    model = make_pipeline(StandardScaler(), svm.NuSVC(nu=0.3)).fit(X, labels)
    m, _ = _roundtrip(model, tmp_path)
    assert isinstance(X, pd.DataFrame)
    assert np.array_equal(m.predict(X), model.predict(X))
    _close(m.decision_function(X), model.decision_function(X))
    _close(m.decision_function(X.iloc[5:6]), model.decision_function(X.iloc[5:6]))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # probability=True is deprecated
def test_probabilities_still_follow_libsvm(tmp_path):
    X, y = _digits()
    model = make_pipeline(StandardScaler(), svm.SVC(probability=True, random_state=0))
    model.fit(X[:800], y[:800])
    m, _ = _roundtrip(model, tmp_path)
    np.testing.assert_allclose(m.predict_proba(X), model.predict_proba(X), rtol=1e-9, atol=0)


def test_nan_is_refused(tmp_path):
    X, y = datasets.load_iris(return_X_y=True)
    est = svm.SVC().fit(X, y)
    m, _ = _roundtrip(est, tmp_path)
    bad = X[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.predict(bad)


def test_file_holds_the_compact_coefficients(tmp_path):
    X, y = _digits()
    model = make_pipeline(StandardScaler(), svm.SVC()).fit(X, y)
    m, path = _roundtrip(model, tmp_path)
    est = model[-1]
    buf = io.BytesIO()
    joblib.dump(model, buf)
    size = path.stat().st_size
    # The support vectors and the (k-1) x n_SV coefficients, no 45 x n_SV zero-padded weight.
    assert size < len(buf.getvalue()), (size, len(buf.getvalue()))
    assert size < est.support_vectors_.nbytes + 2 * est._dual_coef_.nbytes
    ops = [n[0] for n in m._tensors().graph()["nodes"]]
    assert "OvoPairSums" in ops and "Dense" not in ops
