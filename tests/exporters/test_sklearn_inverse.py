"""inverse_transform: the graph's second input Y (docs/FORMAT.md, 9.8), against scikit-learn's own
inverse_transform on its transform output and on other rows of that width."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA, IncrementalPCA, TruncatedSVD
from sklearn.feature_selection import SelectKBest, VarianceThreshold
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (FunctionTransformer, MaxAbsScaler, MinMaxScaler,
                                   Normalizer, OneHotEncoder, RobustScaler, StandardScaler)
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection

import mle_runtime as mle
from mle_runtime import FormatError, InputError, _native
from mle_runtime.format import layout, writer
from mle_runtime.ir import Graph

RTOL, ATOL = 1e-9, 1e-12


def _models():
    return {
        "standard": StandardScaler(),
        "standard_no_mean": StandardScaler(with_mean=False),
        "robust": RobustScaler(quantile_range=(10, 90)),
        "maxabs": MaxAbsScaler(),
        "minmax": MinMaxScaler(feature_range=(-2, 3)),
        "minmax_clip": MinMaxScaler(clip=True),
        "identity": FunctionTransformer(),
        "pca": PCA(n_components=4),
        "pca_whiten": PCA(n_components=5, whiten=True),
        "incremental_pca": IncrementalPCA(n_components=3),
        "svd": TruncatedSVD(n_components=3, random_state=0),
        "gaussian_projection": GaussianRandomProjection(n_components=6, random_state=0),
        "sparse_projection": SparseRandomProjection(n_components=6, random_state=0,
                                                    compute_inverse_components=True),
        "kbest": SelectKBest(k=5),
        "variance": VarianceThreshold(0.5),
        "scaler_pca": make_pipeline(StandardScaler(), PCA(n_components=4, whiten=True)),
        "pca_scaler": make_pipeline(PCA(n_components=4), MinMaxScaler()),
        "scaler_kbest": make_pipeline(RobustScaler(), SelectKBest(k=6)),
    }


@pytest.mark.parametrize("name", sorted(_models()))
def test_inverse_transform_parity(name, dataset, roundtrip):
    X, y = dataset("wine")
    model = _models()[name].fit(X, y)
    proxy = roundtrip(model)
    T = model.transform(X)
    rng = np.random.default_rng(0)
    other = T + rng.normal(scale=0.1, size=T.shape)
    for Y in (T, T[:1], other, T.astype(np.float32), pd.DataFrame(other)):
        exp = model.inverse_transform(Y)
        got = proxy.inverse_transform(Y)
        assert got.dtype == np.asarray(exp).dtype and got.shape == exp.shape
        np.testing.assert_allclose(got, exp, rtol=RTOL, atol=ATOL)


def test_nan_follows_scikit_learn(dataset, roundtrip):
    X, y = dataset("wine")
    scaler = roundtrip(StandardScaler().fit(X))
    Y = StandardScaler().fit(X).transform(X[:4])
    Y[1, 2] = np.nan
    got = scaler.inverse_transform(Y)
    assert np.isnan(got[1, 2]) and np.isfinite(np.delete(got.ravel(), 1 * 13 + 2)).all()
    pca = PCA(n_components=3).fit(X)
    proxy = roundtrip(pca)
    Y = pca.transform(X[:4])
    Y[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pca.inverse_transform(Y)
    with pytest.raises(InputError, match="NaN"):
        proxy.inverse_transform(Y)
    Y[0, 0] = np.inf
    with pytest.raises(InputError, match="infinity"):
        proxy.inverse_transform(Y)


def test_inverse_takes_the_transformed_width(dataset, roundtrip):
    X, y = dataset("wine")
    proxy = roundtrip(PCA(n_components=3).fit(X))
    with pytest.raises(InputError, match="expecting 3 features"):
        proxy.inverse_transform(X)
    with pytest.raises(InputError, match="expecting 13 features"):
        proxy.transform(X[:, :3])
    assert proxy.inverse_transform(np.zeros((2, 3))).shape == (2, 13)


def test_dataframe_fitted_model_takes_any_columns_back(dataset, roundtrip):
    X, y = dataset("wine")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(13)])
    model = StandardScaler().fit(df)
    proxy = roundtrip(model)
    T = model.transform(df)
    np.testing.assert_allclose(proxy.inverse_transform(pd.DataFrame(T)),
                               model.inverse_transform(pd.DataFrame(T)), rtol=RTOL)


def test_models_without_a_stored_inverse_have_none(dataset, roundtrip):
    X, y = dataset("wine")
    for model in (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y),
                  make_pipeline(StandardScaler(), Normalizer()).fit(X)):
        assert not hasattr(model, "inverse_transform")
        proxy = roundtrip(model)
        with pytest.raises(AttributeError):
            proxy.inverse_transform
    # scikit-learn has one, this package does not store it (yet): no method, never a wrong one
    enc = OneHotEncoder(sparse_output=False).fit(np.array([["a"], ["b"]], dtype=object))
    assert hasattr(enc, "inverse_transform")
    assert not hasattr(roundtrip(enc), "inverse_transform")
    func = FunctionTransformer(np.log1p, inverse_func=lambda v: v).fit(X)
    assert not hasattr(roundtrip(func), "inverse_transform")


@pytest.mark.parametrize("inverse_func, validate", [(np.expm1, False), (np.exp, True),
                                                    (None, False), (np.square, True)])
def test_function_transformer_inverse(inverse_func, validate, dataset, roundtrip):
    X, y = dataset("wine")
    model = FunctionTransformer(np.log1p, inverse_func=inverse_func, validate=validate,
                                check_inverse=False).fit(X)
    proxy = roundtrip(model)
    T = model.transform(X)
    for Y in (T, T[:1]):
        np.testing.assert_allclose(proxy.inverse_transform(Y), model.inverse_transform(Y),
                                   rtol=RTOL, atol=ATOL)
    Y = T[:2].copy()
    Y[0, 0] = np.nan
    if validate:
        with pytest.raises(InputError, match="NaN"):
            proxy.inverse_transform(Y)
    else:
        np.testing.assert_allclose(proxy.inverse_transform(Y), model.inverse_transform(Y),
                                   rtol=RTOL, atol=ATOL)


# -- the graph record, against hostile files -------------------------------------------------

def _graph(inverse={"n_features": 2}, y_value="Y"):
    g = Graph("Inv", 3)
    w = g.tensor(np.arange(6, dtype=np.float64).reshape(3, 2), "float64")
    g.output("transform", g.add("Dense", ["X"], weight=w))
    back = g.tensor(np.arange(6, dtype=np.float64).reshape(2, 3), "float64")
    g.inverse = inverse
    g.output("inverse_transform", g.add("Dense", [y_value], weight=back))
    return g


def _load(g):
    return _native.load_buffer(writer.encode({}, g, hash_key="content_hash"))


def test_the_record_runs_y_alone():
    m = _load(_graph())
    rules = json.loads(m.rules_json())
    assert rules["outputs"]["inverse_transform"] == {"input": "Y"}
    out = m.run(np.array([[1.0, 2.0]]), 1, 1)
    np.testing.assert_array_equal(out, [[6.0, 9.0, 12.0]])


@pytest.mark.parametrize("inverse, fragment", [
    ({"n_features": 0}, "'inverse' must be"),
    ({"n_features": 2.5}, "'inverse' must be"),
    ({"n_features": 1 << 40}, "'inverse' must be"),
    ({"n_features": 2, "allow_nan": 1}, "'inverse' must be"),
    ({"n_features": 2, "other": True}, "'inverse' must be"),
    ([2], "'inverse' must be"),
    ({"n_features": 3}, "weight"),
])
def test_hostile_inverse_records(inverse, fragment):
    with pytest.raises(FormatError, match=fragment):
        _load(_graph(inverse))


def test_y_needs_the_record_and_format_1_7(monkeypatch):
    with pytest.raises(FormatError, match="'Y' is not defined"):
        _load(_graph(None))
    monkeypatch.setattr(layout, "MINOR_INVERSE", layout.MINOR_FIT_ONLY)  # an older writer
    with pytest.raises(FormatError, match="needs format 1.7"):
        _load(_graph())


def test_an_output_reads_one_input():
    g = Graph("Both", 2)
    g.inverse = {"n_features": 2}
    g.output("transform", g.add("Concat", ["X", "Y"]))
    with pytest.raises(FormatError, match="reads both inputs"):
        _load(g)
