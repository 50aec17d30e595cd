"""Parity of KMeans, MiniBatchKMeans and BisectingKMeans with their .mle proxies.

predict: labels identical (int32), on the whole dataset, every single row, int, list,
Fortran-ordered and strided input, including rows placed at exact ties between centers;
transform (euclidean distances to the centers): squared distances within 1e-9 relative (and
1e-12 of the squared norms near zero, where scikit-learn's formula itself cancels). The assignment step is scikit-learn's own arithmetic (center norms, then the BLAS
product -2 X @ C.T added onto them, first strict minimum), so rows lying almost exactly between
two centers get scikit-learn's label.

float32 input: scikit-learn's predict of a model fitted on float64 data raises (a Cython
buffer dtype mismatch inside its assignment step); the loaded model assigns float32 rows by
their exact float64 values instead, the label scikit-learn gives the same rows as float64.
This is a deliberate difference, tested below.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import BisectingKMeans, KMeans, MiniBatchKMeans
from sklearn.datasets import load_digits

import mle_runtime as mle

MODELS = {
    "KMeans(3)": lambda: KMeans(3, n_init=1, random_state=0),
    "KMeans(8,elkan)": lambda: KMeans(8, n_init=2, algorithm="elkan", random_state=1),
    "MiniBatchKMeans(5)": lambda: MiniBatchKMeans(5, n_init=1, random_state=0),
    "BisectingKMeans(2)": lambda: BisectingKMeans(2, random_state=0),
    "BisectingKMeans(6)": lambda: BisectingKMeans(6, random_state=0),
    "BisectingKMeans(5,largest_cluster)": lambda: BisectingKMeans(
        5, bisecting_strategy="largest_cluster", random_state=0),
}


def data(name, dataset):
    if name == "digits":
        X, _ = load_digits(return_X_y=True)
        return X.astype(np.float64)
    return dataset(name)[0]


def variants(X):
    n = len(X)
    yield "float64", X
    for i in range(0, n, max(1, n // 40)):
        yield f"row {i}", X[i:i + 1]
    yield "int64", np.round(X).astype(np.int64)
    yield "list", X[:9].tolist()
    yield "fortran", np.asfortranarray(X)
    yield "strided", X[::3]
    yield "odd batch", X[:129]


def check(model, proxy, X):
    for label, v in variants(X):
        expected = model.predict(v)
        got = proxy.predict(v)
        assert got.dtype == expected.dtype == np.int32, label
        np.testing.assert_array_equal(got, expected, err_msg=label)
        t_exp, t_got = model.transform(v), proxy.transform(v)
        assert t_got.dtype == t_exp.dtype and t_got.shape == t_exp.shape
        # d = sqrt(||x||^2 - 2 x.c + ||c||^2): at a center the sum cancels, and its last bits
        # (which hold ||x||^2 summed in einsum's order) are what the root shows; the squares
        # agree within 1e-9 relative to the norms they are computed from.
        scale = float(np.max(np.asarray(v, dtype=np.float64) ** 2, initial=1.0)) * 64
        np.testing.assert_allclose(t_got ** 2, t_exp ** 2, rtol=1e-9, atol=1e-12 * scale,
                                   err_msg=label)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("ds", ["iris", "wine", "breast_cancer", "digits"])
def test_parity(name, ds, dataset, roundtrip):
    X = data(ds, dataset)
    model = MODELS[name]().fit(X)
    proxy = roundtrip(model)
    check(model, proxy, X)
    np.testing.assert_array_equal(proxy.cluster_centers_, model.cluster_centers_)


@pytest.mark.parametrize("name", ["KMeans(3)", "BisectingKMeans(6)"])
def test_near_ties(name, dataset, roundtrip):
    """Rows at the midpoints of pairs of centers, and one ulp either side of them."""
    X = data("iris", dataset)
    model = MODELS[name]().fit(X)
    proxy = roundtrip(model)
    c = model.cluster_centers_
    mids = np.array([(c[i] + c[j]) / 2 for i in range(len(c)) for j in range(i + 1, len(c))])
    rows = np.vstack([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf), c])
    check(model, proxy, rows)
    np.testing.assert_array_equal(proxy.predict(rows), model.predict(rows))


def test_float32_input_is_assigned_by_its_exact_value(dataset, roundtrip):
    X = data("wine", dataset)
    model = KMeans(4, n_init=1, random_state=0).fit(X)
    proxy = roundtrip(model)
    X32 = X.astype(np.float32)
    with pytest.raises(ValueError):
        model.predict(X32)
    np.testing.assert_array_equal(proxy.predict(X32), model.predict(X32.astype(np.float64)))
    np.testing.assert_allclose(proxy.transform(X32), model.transform(X32), rtol=1e-9)


def test_dataframe_and_nan(dataset, roundtrip):
    X = data("iris", dataset)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = KMeans(3, n_init=1, random_state=0).fit(df)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict(df), model.predict(df))
    np.testing.assert_array_equal(proxy.predict(df[["d", "c", "b", "a"]]), model.predict(df))
    bad = X[:2].copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError):
        model.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.predict(bad)


def test_float32_fitted_model_is_refused(dataset, tmp_path):
    X = data("iris", dataset).astype(np.float32)
    model = KMeans(3, n_init=1, random_state=0).fit(X)
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(model, tmp_path / "m.mle")


def test_fast_paths_equal_the_reference_on_labels(dataset, roundtrip):
    from mle_runtime import _native

    X = data("digits", dataset)
    model = KMeans(10, n_init=1, random_state=0).fit(X)
    proxy = roundtrip(model)
    fast = proxy.predict(X)
    old = _native.dense_reference(True)
    try:
        ref = proxy.predict(X)
    finally:
        _native.dense_reference(old)
    np.testing.assert_array_equal(fast, ref)
