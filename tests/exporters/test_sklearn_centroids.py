"""Parity of the nearest-centre predictors and feature pooling with their .mle proxies:
MeanShift, AffinityPropagation, Birch (predict, transform), NearestCentroid (predict,
decision_function, predict_proba, predict_log_proba) and FeatureAgglomeration (transform,
inverse_transform), on scikit-learn's datasets: labels identical (dtype included), values
within 1e-9 relative (and 1e-12 absolute), on the whole batch, single rows, float32, int and
list input and DataFrames; NaN refused as scikit-learn refuses it; the unsupported
configurations refused at dump, naming the class and the parameter."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import AffinityPropagation, Birch, FeatureAgglomeration, MeanShift
from sklearn.neighbors import NearestCentroid

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

RTOL, ATOL = 1e-9, 1e-12


def noisy(X, seed=0):
    return X + np.random.default_rng(seed).normal(scale=0.25 * X.std(axis=0), size=X.shape)


def close(got, expected, what=""):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def check_all(model, proxy, X, methods):
    variants = [("batch", X), ("float32", X.astype(np.float32)), ("int", np.round(X)),
                ("list", X[:5].tolist())] + [(f"row {i}", X[i:i + 1]) for i in
                                             range(0, len(X), max(1, len(X) // 25))]
    for label, v in variants:
        for m in methods:
            close(getattr(proxy, m)(v), getattr(model, m)(v), f"{m} on {label}")


def frame_parity(make, X, y, methods, roundtrip):
    cols = [f"c{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=cols)
    model = make().fit(df) if y is None else make().fit(df, y)
    proxy = roundtrip(model)
    test = pd.DataFrame(noisy(X, 3), columns=cols)
    for m in methods:
        close(getattr(proxy, m)(test), getattr(model, m)(test), f"{m} on a DataFrame")
        close(getattr(proxy, m)(test[cols[::-1]]), getattr(model, m)(test),
              f"{m} on reordered DataFrame columns")


def refuses_nan(proxy, X, method):
    bad = X[:3].copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError):
        getattr(proxy, method)(bad)


@pytest.mark.parametrize("ds", ["iris", "wine", "clf_multiclass"])
def test_mean_shift_and_affinity_propagation(ds, dataset, roundtrip):
    X, _ = dataset(ds, scaled=True)
    for model in (MeanShift(bandwidth=2.0), AffinityPropagation(random_state=0)):
        model.fit(X)
        proxy = roundtrip(model)
        assert not hasattr(proxy, "transform") and not hasattr(proxy, "predict_proba")
        check_all(model, proxy, noisy(X), ["predict"])
        refuses_nan(proxy, X, "predict")
        np.testing.assert_array_equal(proxy.cluster_centers_, model.cluster_centers_)
    if ds == "iris":
        frame_parity(lambda: MeanShift(bandwidth=2.0), X, None, ["predict"], roundtrip)
        frame_parity(lambda: AffinityPropagation(random_state=0), X, None, ["predict"],
                     roundtrip)


def test_affinity_propagation_refusals(dataset):
    X, _ = dataset("iris", scaled=True)
    with pytest.raises(UnsupportedModelError, match="AffinityPropagation.*precomputed"):
        mle.dump(AffinityPropagation(affinity="precomputed", random_state=0).fit(
            -((X[:, None] - X[None]) ** 2).sum(-1)), "/dev/null")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stuck = AffinityPropagation(max_iter=2, random_state=0).fit(X)
    if stuck.cluster_centers_.shape[0] == 0:
        with pytest.raises(UnsupportedModelError, match="AffinityPropagation did not converge"):
            mle.dump(stuck, "/dev/null")


@pytest.mark.parametrize("make", [
    lambda: Birch(), lambda: Birch(n_clusters=None, threshold=0.8),
    lambda: Birch(n_clusters=4, threshold=0.3, branching_factor=10),
])
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer"])
def test_birch(make, ds, dataset, roundtrip):
    X, _ = dataset(ds, scaled=True)
    model = make().fit(X)
    proxy = roundtrip(model)
    Xt = noisy(X)
    check_all(model, proxy, Xt, ["predict"])
    # transform: euclidean distances; near a centre the squares cancel, so the squares are
    # compared within 1e-9 relative to the norms they come from
    for v in (Xt, Xt.astype(np.float32), Xt[:1]):
        e, g = model.transform(v), proxy.transform(v)
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=1e-9)
        np.testing.assert_allclose(g ** 2, e ** 2, rtol=RTOL,
                                   atol=1e-12 * 64 * float(np.max(np.asarray(v) ** 2)))
    refuses_nan(proxy, X, "predict")
    assert not hasattr(proxy, "classes_") and not hasattr(model, "classes_")
    np.testing.assert_array_equal(proxy.subcluster_labels_, model.subcluster_labels_)
    frame_parity(make, X, None, ["predict"], roundtrip)


def test_birch_in_a_pipeline(dataset, roundtrip):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = dataset("wine", scaled=True)
    model = make_pipeline(Birch(n_clusters=None, threshold=1.5), LogisticRegression(
        max_iter=1000)).fit(X, y)
    proxy = roundtrip(model)
    close(proxy.predict(X), model.predict(X))
    # the distances near a subcluster centre carry the cancellation of
    # ||x||^2 - 2 x.c + ||c||^2 (see test_birch) into the probabilities
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=1e-7,
                               atol=1e-12)


NC = {
    "uniform": lambda: NearestCentroid(),
    "empirical": lambda: NearestCentroid(priors="empirical"),
    "given": lambda: NearestCentroid(priors=[0.5, 0.3, 0.2]),
    "shrunk": lambda: NearestCentroid(shrink_threshold=0.3),
}


@pytest.mark.parametrize("name", list(NC))
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer", "clf_multiclass"])
def test_nearest_centroid(name, ds, dataset, roundtrip):
    X, y = dataset(ds, scaled=ds != "iris")
    if name == "given":
        k = len(np.unique(y))
        p = np.arange(1, k + 1, dtype=float)
        make = lambda: NearestCentroid(priors=list(p / p.sum()))  # noqa: E731
    else:
        make = NC[name]
    if name == "empirical":  # unequal classes, so the priors are not uniform
        keep = np.r_[np.flatnonzero(y == y[0])[:10], np.flatnonzero(y != y[0])]
        X, y = X[keep], y[keep]
    model = make().fit(X, y)
    proxy = roundtrip(model)
    methods = ["predict", "decision_function", "predict_proba", "predict_log_proba"]
    check_all(model, proxy, noisy(X), methods)
    refuses_nan(proxy, X, "predict")
    frame_parity(make, X, y, methods, roundtrip)
    np.testing.assert_array_equal(proxy.centroids_, model.centroids_)


def test_nearest_centroid_string_labels_and_zero_deviation(roundtrip):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(90, 4))
    X[:, 2] = 1.5  # a feature without within-class deviation: not divided
    y = np.array(["ant", "bee", "cat"])[rng.integers(0, 3, 90)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = NearestCentroid().fit(X, y)
    proxy = roundtrip(model)
    Xt = rng.normal(size=(30, 4))
    for m in ("predict", "decision_function", "predict_proba", "predict_log_proba"):
        close(getattr(proxy, m)(Xt), getattr(model, m)(Xt), m)


@pytest.mark.parametrize("priors", ["uniform", "empirical"])
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer", "clf_multiclass"])
def test_nearest_centroid_manhattan(priors, ds, dataset, roundtrip):
    X, y = dataset(ds, scaled=ds != "iris")
    if priors == "empirical":
        keep = np.r_[np.flatnonzero(y == y[0])[:10], np.flatnonzero(y != y[0])]
        X, y = X[keep], y[keep]
    make = lambda: NearestCentroid(metric="manhattan", priors=priors)  # noqa: E731
    model = make().fit(X, y)
    proxy = roundtrip(model)
    for m in ("decision_function", "predict_proba", "predict_log_proba"):
        assert not hasattr(model, m) and not hasattr(proxy, m)
    check_all(model, proxy, noisy(X), ["predict"])
    refuses_nan(proxy, X, "predict")
    frame_parity(make, X, y, ["predict"], roundtrip)


@pytest.mark.parametrize("k, linkage", [(2, "ward"), (5, "average"), (8, "complete")])
@pytest.mark.parametrize("ds", ["wine", "breast_cancer", "regression"])
def test_feature_agglomeration(k, linkage, ds, dataset, roundtrip):
    X, _ = dataset(ds)
    model = FeatureAgglomeration(n_clusters=k, linkage=linkage).fit(X)
    proxy = roundtrip(model)
    Xt = noisy(X)
    check_all(model, proxy, Xt, ["transform"])
    t = model.transform(Xt)
    close(proxy.inverse_transform(t), model.inverse_transform(t), "inverse_transform")
    close(proxy.inverse_transform(t[:1]), model.inverse_transform(t[:1]), "one row")
    t32 = t.astype(np.float32)
    close(proxy.inverse_transform(t32), model.inverse_transform(t32), "float32 inverse")
    refuses_nan(proxy, X, "transform")
    frame_parity(lambda: FeatureAgglomeration(n_clusters=k, linkage=linkage), X, None,
                 ["transform"], roundtrip)


def test_feature_agglomeration_pooling_max_is_refused(dataset):
    X, _ = dataset("wine")
    with pytest.raises(UnsupportedModelError, match="FeatureAgglomeration.*pooling_func"):
        mle.dump(FeatureAgglomeration(n_clusters=3, pooling_func=np.max).fit(X), "/dev/null")


def test_birch_with_an_estimator_as_global_clustering(dataset, roundtrip):
    from sklearn.cluster import AgglomerativeClustering

    X, _ = dataset("wine", scaled=True)
    model = Birch(n_clusters=AgglomerativeClustering(n_clusters=5, linkage="average"),
                  threshold=0.9).fit(X)
    assert len(np.unique(model.subcluster_labels_)) == 5
    proxy = roundtrip(model)
    check_all(model, proxy, noisy(X), ["predict"])


def test_feature_agglomeration_in_a_pipeline_and_its_inverse(dataset, roundtrip):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = dataset("breast_cancer")
    model = make_pipeline(StandardScaler(), FeatureAgglomeration(n_clusters=6)).fit(X)
    proxy = roundtrip(model)
    Xt = noisy(X)
    close(proxy.transform(Xt), model.transform(Xt), "transform")
    t = model.transform(Xt)
    close(proxy.inverse_transform(t), model.inverse_transform(t), "inverse_transform")


@pytest.mark.parametrize("k", [1, 4, 9])
@pytest.mark.parametrize("ds", ["wine", "breast_cancer", "regression"])
def test_feature_agglomeration_median(k, ds, dataset, roundtrip):
    X, _ = dataset(ds)
    model = FeatureAgglomeration(n_clusters=k, pooling_func=np.median).fit(X)
    proxy = roundtrip(model)
    Xt = noisy(X)
    # np.median: the same values, bit for bit, in X's float type
    for label, v in [("batch", Xt), ("float32", Xt.astype(np.float32)), ("int", np.round(Xt)),
                     ("int64", np.round(Xt).astype(np.int64)), ("row", Xt[3:4])]:
        e, g = model.transform(v), proxy.transform(v)
        assert g.dtype == e.dtype, label
        np.testing.assert_array_equal(g, e, err_msg=label)
    t = model.transform(Xt)
    close(proxy.inverse_transform(t), model.inverse_transform(t), "inverse_transform")
    refuses_nan(proxy, X, "transform")
    frame_parity(lambda: FeatureAgglomeration(n_clusters=k, pooling_func=np.median), X, None,
                 ["transform"], roundtrip)
