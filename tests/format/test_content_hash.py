"""content_hash covers every prediction rule (format 1.3 keeps them in the graph section):
two models whose predictions differ have different hashes, and the same model stored with
different descriptive metadata, compression, encryption or signatures has one hash."""

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mle_runtime as mle
from mle_runtime.exporters import export
from mle_runtime.format import writer


def _hash(model, **dump_kwargs):
    """The content hash of ``model`` dumped with ``dump_kwargs`` (the inner file's, for an
    envelope)."""
    buf = io.BytesIO()
    mle.dump(model, buf, **dump_kwargs)
    key = dump_kwargs.get("encryption_key")
    return mle.inspect_model(buf.getvalue(), encryption_key=key)["content_hash"]


def _graph_hash(model, edit=None):
    """The content hash of ``model``'s exported graph after ``edit(graph)``."""
    graph, meta = export(model)
    if edit is not None:
        edit(graph)
    blob, offsets, _ = writer.pack_tensors(graph.tensors)
    return writer.content_hash(writer.encode_json(graph.to_json(offsets)), blob)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"]), y


def test_labels_change_the_hash(iris):
    X, y = iris
    ints = LogisticRegression(max_iter=300).fit(X.to_numpy(), y)
    strs = LogisticRegression(max_iter=300).fit(
        X.to_numpy(), np.array(["setosa", "versicolor", "virginica"])[y])
    # the same coefficients: only the labels differ, and so do the predictions
    np.testing.assert_array_equal(ints.coef_, strs.coef_)
    assert _hash(ints) != _hash(strs)
    assert _graph_hash(ints) == _graph_hash(ints)


def test_feature_names_change_the_hash(iris):
    X, y = iris
    named = LogisticRegression(max_iter=300).fit(X, y)
    renamed = LogisticRegression(max_iter=300).fit(X.set_axis(list("abcd"), axis=1), y)
    plain = LogisticRegression(max_iter=300).fit(X.to_numpy(), y)
    assert len({_hash(named), _hash(renamed), _hash(plain)}) == 3


def test_pandas_categories_change_the_hash():
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 300)
    x = rng.normal(size=300)
    y = codes + x + rng.normal(scale=0.1, size=300)

    def fit(categories):
        df = pd.DataFrame({"c": pd.Categorical.from_codes(codes, categories), "x": x})
        return lgb.LGBMRegressor(n_estimators=5, num_leaves=4, min_data_per_group=5,
                                 verbose=-1).fit(df, y)

    abc, xyz = fit(["a", "b", "c"]), fit(["x", "y", "z"])
    assert abc.booster_.model_to_string().split("pandas_categorical")[0] == \
        xyz.booster_.model_to_string().split("pandas_categorical")[0]
    assert _hash(abc) != _hash(xyz)


def test_output_dtype_and_keyword_aliases_change_the_hash(iris):
    X, y = iris
    model = LogisticRegression(max_iter=300).fit(X.to_numpy(), y)

    def proba_float32(graph):
        next(o for o in graph.outputs if o["name"] == "predict_proba")["opts"]["dtype"] = \
            "float32"

    def alias(graph):
        graph.keyword("predict", "raw", True, "decision_function")

    hashes = {_graph_hash(model), _graph_hash(model, proba_float32), _graph_hash(model, alias)}
    assert len(hashes) == 3


def test_descriptive_differences_keep_one_hash(iris):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    X, y = iris
    model = LogisticRegression(max_iter=300).fit(X, y)
    hashes = {
        _hash(model),
        _hash(model, metadata={"team": "a"}),
        _hash(model, metadata={"team": "b"}, model_version="2.0.0"),
        _hash(model, compress=3),
        _hash(model, encryption_key="passphrase"),
        _hash(model, sign_with=Ed25519PrivateKey.generate()),
        _hash(model, compress=3, sign_with=Ed25519PrivateKey.generate()),
    }
    assert len(hashes) == 1
