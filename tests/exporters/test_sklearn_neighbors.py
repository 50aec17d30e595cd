"""Parity of the nearest-neighbour estimators with their .mle proxies: KNeighborsClassifier
(predict, predict_proba, kneighbors), KNeighborsRegressor (predict, kneighbors),
NearestNeighbors (kneighbors), RadiusNeighborsClassifier (predict, predict_proba, outliers),
RadiusNeighborsRegressor (predict) and LocalOutlierFactor(novelty=True) (predict,
decision_function, score_samples), for every search (brute, kd_tree, ball_tree), the metrics
euclidean, manhattan, chebyshev and minkowski, uniform and distance weights, on iris,
breast_cancer, digits and seeded integer-valued data full of distance ties (duplicated rows,
queries on the training points): the same neighbours in the same order, ties included.

scikit-learn's brute-force search orders tied neighbours by how its OpenMP threads split the
training rows, so the tie-heavy comparisons run scikit-learn with one OpenMP thread (the order
the stored model reproduces, docs/FORMAT.md section 11.8); the tree searches, and data
without exact ties, do not depend on threads (checked below with scikit-learn's default
threads)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.neighbors import (KNeighborsClassifier, KNeighborsRegressor, LocalOutlierFactor,
                               NearestNeighbors, RadiusNeighborsClassifier,
                               RadiusNeighborsRegressor)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mle_runtime as mle

RTOL = 1e-9

METRICS = {"euclidean": dict(metric="minkowski", p=2), "manhattan": dict(metric="manhattan"),
           "chebyshev": dict(metric="chebyshev"), "minkowski3": dict(metric="minkowski", p=3)}
ALGORITHMS = ("brute", "kd_tree", "ball_tree")


def _ties():
    rng = np.random.default_rng(7)
    X = rng.integers(0, 3, size=(240, 4)).astype(np.float64)
    X = np.vstack([X, X[:40]])  # duplicated rows
    y = rng.integers(0, 3, size=len(X))
    q = np.vstack([rng.integers(0, 3, size=(50, 4)).astype(np.float64), X[:20]])
    return X, y, q


def _split(X, y, step):
    test = np.zeros(len(X), dtype=bool)
    test[::step] = True
    return X[~test], y[~test], X[test]


@pytest.fixture(scope="module")
def data():
    iris = load_iris(return_X_y=True)
    bc = load_breast_cancer(return_X_y=True)
    digits = load_digits(return_X_y=True)
    return {"iris": _split(*iris, 3), "breast_cancer": _split(*bc, 4),
            "digits": _split(digits[0][:900], digits[1][:900], 3), "ties": _ties()}


def _reference(fn):
    with threadpool_limits(1, user_api="openmp"):
        return fn()


def _close(expected, got):
    expected, got = np.asarray(expected), np.asarray(got)
    assert expected.shape == got.shape
    scale = np.maximum(np.abs(expected), 1e-300)
    diff = np.max(np.abs(got - expected) / scale, initial=0.0)
    assert diff <= RTOL, diff


def _same_neighbours(model, proxy, X):
    dist, ind = _reference(lambda: model.kneighbors(X))
    got = proxy.kneighbors(X)
    assert isinstance(got, tuple) and len(got) == 2
    assert got[1].dtype == np.int64 and got[0].dtype == np.float64
    np.testing.assert_array_equal(got[1], ind)
    _close(dist, got[0])


CASES = [(d, a, m) for d in ("iris", "ties") for a in ALGORITHMS for m in METRICS] + \
        [(d, a, m) for d in ("breast_cancer", "digits") for a in ALGORITHMS
         for m in ("euclidean", "manhattan")]


@pytest.mark.parametrize("name,algorithm,metric", CASES)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier(data, roundtrip, name, algorithm, metric, weights):
    X, y, q = data[name]
    for k in (5, 16):
        model = KNeighborsClassifier(k, weights=weights, algorithm=algorithm,
                                     **METRICS[metric]).fit(X, y)
        proxy = roundtrip(model)
        np.testing.assert_array_equal(proxy.predict(q), _reference(lambda: model.predict(q)))
        _close(_reference(lambda: model.predict_proba(q)), proxy.predict_proba(q))
        _same_neighbours(model, proxy, q)


@pytest.mark.parametrize("name,algorithm,metric", [c for c in CASES if c[0] != "digits"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor(data, roundtrip, name, algorithm, metric, weights):
    X, y, q = data[name]
    target = np.sin(y * 1.7) + 0.25 * y
    for k in (1, 7):
        model = KNeighborsRegressor(k, weights=weights, algorithm=algorithm,
                                    **METRICS[metric]).fit(X, target)
        proxy = roundtrip(model)
        got = proxy.predict(q)
        assert got.shape == (len(q),)
        _close(_reference(lambda: model.predict(q)), got)
        _same_neighbours(model, proxy, q)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_multi_output(data, roundtrip, algorithm, weights):
    X, y, q = data["ties"]
    targets = np.column_stack([y * 0.5, np.cos(y), np.arange(len(y), dtype=float)])
    model = KNeighborsRegressor(9, weights=weights, algorithm=algorithm).fit(X, targets)
    got = roundtrip(model).predict(q)
    assert got.shape == (len(q), 3)
    _close(_reference(lambda: model.predict(q)), got)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_multi_output(data, roundtrip, algorithm, weights):
    X, y, q = data["ties"]
    labels = np.array(["a", "b", "c", "d"])
    targets = np.column_stack([y, (y + np.arange(len(y))) % 4, np.arange(len(y)) % 2])
    targets = labels[targets]
    for metric in ("euclidean", "manhattan"):
        model = KNeighborsClassifier(6, weights=weights, algorithm=algorithm,
                                     **METRICS[metric]).fit(X, targets)
        proxy = roundtrip(model)
        np.testing.assert_array_equal(proxy.predict(q), _reference(lambda: model.predict(q)))
        expected = _reference(lambda: model.predict_proba(q))
        got = proxy.predict_proba(q)
        assert len(got) == len(expected) == 3
        for e, g_ in zip(expected, got):
            _close(e, g_)
        _same_neighbours(model, proxy, q)


@pytest.mark.parametrize("algorithm", ALGORITHMS + ("auto",))
@pytest.mark.parametrize("metric", list(METRICS))
def test_nearest_neighbors_ties(data, roundtrip, algorithm, metric):
    X, _, q = data["ties"]
    for k in (1, 15, 16, 40):
        model = NearestNeighbors(n_neighbors=k, algorithm=algorithm, **METRICS[metric]).fit(X)
        _same_neighbours(model, roundtrip(model), q)


def test_trees_and_untied_data_with_default_threads(data, roundtrip):
    # No thread limit: the tree searches never depend on threads, and without exact ties
    # neither does the brute-force one.
    for name, algorithm in (("ties", "kd_tree"), ("ties", "ball_tree"),
                            ("breast_cancer", "brute"), ("breast_cancer", "kd_tree")):
        X, y, q = data[name]
        model = KNeighborsClassifier(7, weights="distance", algorithm=algorithm).fit(X, y)
        proxy = roundtrip(model)
        np.testing.assert_array_equal(proxy.predict(q), model.predict(q))
        _close(model.predict_proba(q), proxy.predict_proba(q))
        dist, ind = model.kneighbors(q)
        np.testing.assert_array_equal(proxy.kneighbors(q)[1], ind)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_single_rows_float32_and_dataframes(data, roundtrip, algorithm):
    pd = pytest.importorskip("pandas")
    for name in ("iris", "breast_cancer"):
        X, y, q = data[name]
        model = KNeighborsClassifier(5, weights="distance", algorithm=algorithm).fit(X, y)
        proxy = roundtrip(model)
        for i in (0, 7, len(q) - 1):
            row = q[i:i + 1]
            np.testing.assert_array_equal(proxy.predict(row), model.predict(row))
            _close(model.predict_proba(row), proxy.predict_proba(row))
        q32 = q.astype(np.float32)
        if algorithm == "brute":
            # scikit-learn's brute force takes another path for float32 rows (its tie order
            # is numpy's argpartition's): refused, not approximated
            with pytest.raises(mle.InputError, match="float32"):
                proxy.predict(q32)
        else:  # the trees widen float32 rows to float64, as scikit-learn's do
            np.testing.assert_array_equal(proxy.predict(q32), model.predict(q32))
            _close(model.predict_proba(q32), proxy.predict_proba(q32))
            np.testing.assert_array_equal(proxy.kneighbors(q32)[1], model.kneighbors(q32)[1])
        cols = [f"f{j}" for j in range(X.shape[1])]
        framed = KNeighborsRegressor(4, algorithm=algorithm).fit(pd.DataFrame(X, columns=cols),
                                                                 y * 1.5)
        fproxy = roundtrip(framed)
        frame = pd.DataFrame(q, columns=cols)
        _close(framed.predict(frame), fproxy.predict(frame))
        _close(framed.predict(frame), fproxy.predict(frame[cols[::-1]]))  # columns by name


def test_pipeline_and_labels(data, roundtrip):
    X, y, q = data["iris"]
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(3)).fit(X, names)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict(q), model.predict(q))
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    _close(model.predict_proba(q), proxy.predict_proba(q))
    assert not hasattr(model, "kneighbors") and not hasattr(proxy, "kneighbors")


def test_nan_refused(data, roundtrip):
    X, y, q = data["iris"]
    proxy = roundtrip(KNeighborsClassifier().fit(X, y))
    bad = q.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        proxy.predict(bad)


@pytest.mark.parametrize("make,match", [
    (lambda: KNeighborsClassifier(metric="cosine"), "metric='cosine'"),
    (lambda: KNeighborsClassifier(metric="l2"), "metric='l2'"),
    (lambda: KNeighborsClassifier(weights=lambda d: d), "weights="),
    (lambda: KNeighborsClassifier(metric="minkowski", p=3,
                                  metric_params={"w": np.ones(4)}), "weighted minkowski"),
    (lambda: KNeighborsRegressor(metric="seuclidean", metric_params={"V": np.ones(4)}),
     "seuclidean"),
])
def test_refused_configurations(data, tmp_path, make, match):
    X, y, _ = data["iris"]
    with pytest.raises(mle.UnsupportedModelError, match=match):
        mle.dump(make().fit(X, y), tmp_path / "m.mle")


def test_refused_models(data, tmp_path):
    X, y, _ = data["iris"]
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(KNeighborsClassifier().fit(X.astype(np.float32), y), tmp_path / "m.mle")
    with pytest.raises(mle.UnsupportedModelError, match="single class"):
        mle.dump(KNeighborsClassifier().fit(X, np.zeros(len(X))), tmp_path / "m.mle")
    with pytest.raises(mle.UnsupportedModelError, match="precomputed"):
        D = np.abs(X[:, :1] - X[:, :1].T)
        mle.dump(KNeighborsClassifier(metric="precomputed").fit(D, y), tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- radius neighbours

def _radius_data():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, size=(200, 3)).astype(np.float64)
    y = rng.integers(0, 3, size=200)
    q = np.vstack([rng.integers(-2, 6, size=(80, 3)).astype(np.float64), X[:10]])
    return X, y, q


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_radius_classifier(roundtrip, algorithm, metric, weights):
    # Integer-valued rows: many at exactly the radius (its boundary is inclusive), and queries
    # with no neighbour (outliers) at radius 0 and 1.
    X, y, q = _radius_data()
    for radius in (0.0, 1.0, 2.0):
        for outlier_label, offset in (("most_frequent", 0), (1, 0), (11, 10)):
            model = RadiusNeighborsClassifier(radius=radius, weights=weights,
                                              algorithm=algorithm, outlier_label=outlier_label,
                                              **METRICS[metric]).fit(X, y + offset)
            proxy = roundtrip(model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the outlier label is not in the classes
                np.testing.assert_array_equal(proxy.predict(q), model.predict(q))
                _close(model.predict_proba(q), proxy.predict_proba(q))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_radius_float32(roundtrip, algorithm):
    X, y, q = _radius_data()
    q32 = q.astype(np.float32)
    model = RadiusNeighborsClassifier(radius=1.0, algorithm=algorithm, metric="manhattan",
                                      outlier_label="most_frequent").fit(X, y)
    proxy = roundtrip(model)
    if algorithm == "brute":  # scikit-learn takes another path for float32 rows: refused
        with pytest.raises(mle.InputError, match="float32"):
            proxy.predict_proba(q32)
        return
    np.testing.assert_array_equal(proxy.predict(q32), model.predict(q32))
    _close(model.predict_proba(q32), proxy.predict_proba(q32))


def test_radius_classifier_without_outlier_label_refuses_outliers(roundtrip):
    X, y, q = _radius_data()
    model = RadiusNeighborsClassifier(radius=1.0).fit(X, y)
    proxy = roundtrip(model)
    inliers = q[80:]
    np.testing.assert_array_equal(proxy.predict(inliers), model.predict(inliers))
    with pytest.raises(ValueError, match="No neighbors found"):
        model.predict(q)
    with pytest.raises(ValueError, match="No neighbors found"):
        proxy.predict(q)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_radius_regressor(data, roundtrip, algorithm, metric, weights):
    X, y, q = _radius_data()
    Xi, yi, qi = data["iris"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows without neighbours: NaN, with a warning
        for XX, yy, qq, radius in ((X, y, q, 1.0), (X, y, q, 0.0), (Xi, yi, qi + 0.05, 0.4)):
            target = np.column_stack([yy * 1.5 + 0.1, np.cos(yy)])
            for t in (target[:, 0], target):
                model = RadiusNeighborsRegressor(radius=radius, weights=weights,
                                                 algorithm=algorithm,
                                                 **METRICS[metric]).fit(XX, t)
                expected = model.predict(qq)
                got = roundtrip(model).predict(qq)
                assert got.shape == expected.shape
                np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
                ok = ~np.isnan(expected)
                _close(expected[ok], got[ok])


def test_radius_refusals(tmp_path):
    X, y, _ = _radius_data()
    with pytest.raises(mle.UnsupportedModelError, match="outlier_label=-1"):
        mle.dump(RadiusNeighborsClassifier(outlier_label=-1).fit(X, y), tmp_path / "m.mle")
    with pytest.raises(mle.UnsupportedModelError, match="multi-output"):
        mle.dump(RadiusNeighborsClassifier(outlier_label="most_frequent").fit(
            X, np.column_stack([y, y])), tmp_path / "m.mle")
    with pytest.raises(mle.UnsupportedModelError, match="cosine"):
        mle.dump(RadiusNeighborsRegressor(metric="cosine").fit(X, y), tmp_path / "m.mle")


# ---------------------------------------------------------------- local outlier factor

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "minkowski3"])
def test_local_outlier_factor(data, roundtrip, algorithm, metric):
    rng = np.random.default_rng(5)
    ties = rng.integers(0, 4, size=(200, 3)).astype(np.float64)
    cases = [(ties, rng.integers(-1, 5, size=(60, 3)).astype(np.float64)),
             (data["iris"][0], data["iris"][2] + 0.1),
             (data["breast_cancer"][0], data["breast_cancer"][2])]
    for X, q in cases:
        for k in (5, 20):
            model = LocalOutlierFactor(n_neighbors=k, novelty=True, algorithm=algorithm,
                                       **METRICS[metric]).fit(X)
            proxy = roundtrip(model)
            inputs = [q] if algorithm == "brute" else [q, q.astype(np.float32)]
            for Q in inputs:
                np.testing.assert_array_equal(proxy.predict(Q),
                                              _reference(lambda: model.predict(Q)))
                _close(_reference(lambda: model.score_samples(Q)), proxy.score_samples(Q))
                _close(_reference(lambda: model.decision_function(Q)),
                       proxy.decision_function(Q))
            _same_neighbours(model, proxy, q)


def test_local_outlier_factor_without_novelty_is_stored_read_only(data, tmp_path):
    # it predicts nothing on new data: fitted attributes, kneighbors (test_sklearn_fit_only)
    X = data["iris"][0]
    mle.dump(LocalOutlierFactor().fit(X), tmp_path / "m.mle")
    proxy = mle.load(tmp_path / "m.mle")
    assert not hasattr(proxy, "predict") and not hasattr(proxy, "score_samples")
    with pytest.raises(mle.ReadOnlyModelError):
        proxy.fit_predict(X)
