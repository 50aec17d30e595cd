"""get_feature_names_out and set_output(transform="pandas") on loaded transformers: the names
scikit-learn computed and the DataFrame it returns."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

from mle_runtime import FormatError, _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from tabular_testing import CAT, NUM, titanic

RTOL = 1e-9


def _column_transformer():
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUM),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CAT)])


def _same_frame(got, exp):
    assert isinstance(got, pd.DataFrame)
    assert list(got.columns) == list(exp.columns)
    assert got.index.equals(exp.index)
    np.testing.assert_allclose(got.to_numpy(dtype=float), exp.to_numpy(dtype=float), rtol=RTOL)


def test_column_transformer_with_pandas_output(roundtrip):
    X, y = titanic()
    model = _column_transformer().set_output(transform="pandas").fit(X)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.get_feature_names_out(), model.get_feature_names_out())
    for T in (X, X.iloc[5:6], X.iloc[::-1]):
        _same_frame(proxy.transform(T), model.transform(T))
    proxy.set_output(transform="default")
    out = proxy.transform(X)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, model.transform(X).to_numpy(), rtol=RTOL)


def test_arrays_by_default_and_set_output_on_the_loaded_model(roundtrip):
    X, y = titanic()
    model = _column_transformer().fit(X)
    proxy = roundtrip(model)
    assert isinstance(proxy.transform(X), np.ndarray)
    assert proxy.set_output(transform="pandas") is proxy
    model.set_output(transform="pandas")
    _same_frame(proxy.transform(X), model.transform(X))
    numpy_rows = X.to_numpy(dtype=object)[:3]
    got = proxy.transform(X.iloc[:3])
    assert list(got.index) == list(X.index[:3])
    with pytest.raises(ValueError, match="output config"):
        proxy.set_output(transform="arrow")
    assert numpy_rows.shape == (3, X.shape[1])


@pytest.mark.parametrize("make", [
    lambda: StandardScaler(),
    lambda: PCA(n_components=3),
    lambda: PolynomialFeatures(degree=2),
    lambda: make_pipeline(StandardScaler(), PCA(n_components=2)),
])
def test_names_of_numeric_transformers(make, dataset, roundtrip):
    X, y = dataset("wine")
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    for fit_on in (X, df):
        model = make().fit(fit_on)
        proxy = roundtrip(model)
        np.testing.assert_array_equal(proxy.get_feature_names_out(),
                                      model.get_feature_names_out())
        model.set_output(transform="pandas")
        proxy.set_output(transform="pandas")
        _same_frame(proxy.transform(fit_on), model.transform(fit_on))


def test_input_features_must_be_the_fitted_ones(dataset, roundtrip):
    X, y = dataset("wine")
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    model = StandardScaler().fit(df)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.get_feature_names_out(list(df.columns)),
                                  model.get_feature_names_out(list(df.columns)))
    with pytest.raises(ValueError):
        model.get_feature_names_out(["nope"] * X.shape[1])
    with pytest.raises(ValueError):
        proxy.get_feature_names_out(["nope"] * X.shape[1])


def test_predictors_have_no_names(dataset, roundtrip):
    from sklearn.linear_model import LogisticRegression

    X, y = dataset("iris")
    proxy = roundtrip(LogisticRegression(max_iter=1000).fit(X, y))
    assert not hasattr(proxy, "get_feature_names_out")
    assert not hasattr(proxy, "set_output")


# -- the output options, against hostile files ---------------------------------------------

def _graph(opts):
    g = Graph("Named", 2)
    v = g.add("SubDiv", ["X"], sub=g.tensor(np.zeros(2), "float64"))
    g.output("transform", v)
    g.outputs[0]["opts"] = dict(opts)  # as a hostile file may hold them
    return g


def _load(g):
    return _native.load_buffer(writer.encode({}, g, hash_key="content_hash"))


def test_names_in_the_rules():
    m = _load(_graph(dict(columns=["a", "b"], container="pandas")))
    assert json.loads(m.rules_json())["outputs"]["transform"] == {
        "columns": ["a", "b"], "container": "pandas"}


@pytest.mark.parametrize("opts, fragment", [
    (dict(columns=["a"]), "must be a list of 2 strings"),
    (dict(columns=["a", "b", "c"]), "must be a list of 2 strings"),
    (dict(columns=["a", 1]), "must be a list of 2 strings"),
    (dict(columns=["a", "b" * 5000]), "must be a list of 2 strings"),
    (dict(container="pandas"), "needs 'columns'"),
    (dict(columns=["a", "b"], container="arrow"), "must be \"pandas\" or \"polars\""),
    (dict(columns=["a", "b"], splits=[1, 1]), "plain 2-D output"),
])
def test_hostile_name_options(opts, fragment):
    with pytest.raises(FormatError, match=fragment):
        _load(_graph(opts))
