"""OneHotEncoder and OrdinalEncoder: parity with scikit-learn on string, category and numeric
columns (values within 1e-9 relative, labels exactly), unknown and missing values as each
encoder's settings treat them, and the input rules' validation."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

import mle_runtime as mle
from tabular_testing import CAT, titanic, unseen

RTOL = 1e-9


def _dense(a):
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def _same(expected, got):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=RTOL, atol=0)


def _unknown_messages(fn, X):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn(X)
    return out, [str(m.message) for m in w if "unknown categories" in str(m.message)]


ONE_HOT = {
    "ignore": dict(handle_unknown="ignore"),
    "ignore-sparse": dict(handle_unknown="ignore", sparse_output=True),
    "drop-first": dict(handle_unknown="ignore", drop="first"),
    "drop-if-binary": dict(handle_unknown="ignore", drop="if_binary"),
    "infrequent": dict(handle_unknown="infrequent_if_exist", min_frequency=60),
    "max-categories": dict(handle_unknown="infrequent_if_exist", max_categories=2),
    "warn": dict(handle_unknown="warn", max_categories=3),
    "warn-no-infrequent": dict(handle_unknown="warn"),
    "drop-infrequent": dict(handle_unknown="infrequent_if_exist", min_frequency=60,
                            drop="first"),
}


@pytest.mark.parametrize("name", list(ONE_HOT))
def test_one_hot_parity(name, roundtrip):
    X, _ = titanic()
    X = X[CAT]
    enc = OneHotEncoder(**ONE_HOT[name]).fit(X)
    proxy = roundtrip(enc)
    for T in (X, X.iloc[:1], X.iloc[[7]], unseen(X)):
        expected, want = _unknown_messages(enc.transform, T)
        got, have = _unknown_messages(proxy.transform, T)
        _same(_dense(expected), got)
        assert have == want
    # numpy object arrays, taken by position
    A = unseen(X).to_numpy(dtype=object)
    _same(_dense(enc.transform(pd.DataFrame(A, columns=CAT, dtype=object))),
          proxy.transform(A))


def test_one_hot_explicit_drop_and_numeric_categories(roundtrip):
    rng = np.random.RandomState(1)
    X = pd.DataFrame({"k": rng.randint(0, 4, 200).astype(float),
                      "s": pd.Series(rng.choice(["a", "b", "c"], 200), dtype=object)})
    X.loc[:5, "k"] = np.nan
    enc = OneHotEncoder(drop=[2.0, "b"], handle_unknown="ignore").fit(X)
    proxy = roundtrip(enc)
    T = X.copy()
    T.loc[10:12, "k"] = 9.0
    T.loc[13, "s"] = "zz"
    _same(_dense(enc.transform(T)), proxy.transform(T))
    Xf = X.astype({"k": np.float32})
    _same(_dense(enc.transform(Xf)), proxy.transform(Xf))


def test_one_hot_error_on_unknown(roundtrip):
    X, _ = titanic()
    enc = OneHotEncoder().fit(X[CAT])
    proxy = roundtrip(enc)
    _same(_dense(enc.transform(X[CAT])), proxy.transform(X[CAT]))
    T = unseen(X)[CAT]
    with pytest.raises(ValueError, match="Found unknown categories") as sk:
        enc.transform(T)
    with pytest.raises(mle.InputError, match="Found unknown categories") as ours:
        proxy.transform(T)
    assert str(ours.value).split("[")[0] == str(sk.value).split("[")[0]


def test_one_hot_numeric_error_on_unknown(roundtrip):
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 6.0]])
    enc = OneHotEncoder(sparse_output=False).fit(X)
    proxy = roundtrip(enc)
    _same(enc.transform(X), proxy.transform(X))
    _same(enc.transform(X.astype(np.float32)), proxy.transform(X.astype(np.float32)))
    T = np.array([[1.0, 4.0], [2.0, 6.0], [1.0, 4.0]])
    with pytest.raises(ValueError) as sk:
        enc.transform(T)
    with pytest.raises(mle.InputError) as ours:
        proxy.transform(T)
    assert str(ours.value) == str(sk.value)


ORDINAL = {
    "default-error": dict(),
    "encoded": dict(handle_unknown="use_encoded_value", unknown_value=-1,
                    encoded_missing_value=-2),
    "nan-unknown": dict(handle_unknown="use_encoded_value", unknown_value=np.nan),
    "infrequent": dict(handle_unknown="use_encoded_value", unknown_value=-1, min_frequency=60),
    "max-categories": dict(handle_unknown="use_encoded_value", unknown_value=-1,
                           max_categories=2),
}


@pytest.mark.parametrize("name", list(ORDINAL))
def test_ordinal_parity(name, roundtrip):
    X, _ = titanic()
    X = X[CAT]
    enc = OrdinalEncoder(**ORDINAL[name]).fit(X)
    proxy = roundtrip(enc)
    tests = [X, X.iloc[:1]] + ([] if name == "default-error" else [unseen(X)])
    for T in tests:
        _same(enc.transform(T), proxy.transform(T))
    if name == "default-error":
        with pytest.raises(mle.InputError, match="Found unknown categories"):
            proxy.transform(unseen(X))


def test_numpy_unicode_input(roundtrip):
    rng = np.random.RandomState(3)
    X = rng.choice(["red", "green", "blue"], (300, 2))
    y = rng.randint(0, 3, 300)
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()).fit(X, y)
    proxy = roundtrip(model)
    T = X.copy()
    T[:4, 0] = "purple"
    np.testing.assert_array_equal(model.predict(T), proxy.predict(T))
    _same(model.predict_proba(T), proxy.predict_proba(T))
    _same(model.predict_proba(T.astype(object)), proxy.predict_proba(T.astype(object)))
    with pytest.raises(mle.InputError, match="holds numbers"):
        proxy.predict(np.zeros((2, 2)))


def test_unsupported_settings_are_refused(tmp_path):
    X, _ = titanic()
    with pytest.raises(mle.UnsupportedModelError, match="dtype=float64"):
        mle.dump(OneHotEncoder(dtype=np.float32).fit(X[CAT]), tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- hostile input rules

def _rules_file(tmp_path, inputs):
    """An OneHotEncoder's file with its graph's input rules replaced."""
    from mle_runtime.exporters import export
    from mle_runtime.format import writer

    X, _ = titanic(50)
    graph, meta = export(OneHotEncoder(handle_unknown="ignore").fit(X[CAT]))
    graph.inputs.update(inputs)
    return graph, meta, writer


@pytest.mark.parametrize("inputs, message", [
    ({"strings": {"0": ["a"]}}, "must be a list"),
    ({"strings": [[0, ["b", "a"]], [1, []], [2, []]]}, "sorted without duplicates"),
    ({"strings": [[0, ["a", "a"]]]}, "sorted without duplicates"),
    ({"strings": [[1, ["a"]], [0, ["a"]]]}, "strictly increasing"),
    ({"strings": [[3, ["a"]]]}, "must be below 3"),
    ({"strings": [[0, [1, 2]]]}, "strings only"),
    ({"strings": [["0", ["a"]]]}, r"\[column, \[strings\]\]"),
    ({"unknown": [["fail", [0], [[1.0]], ""]]}, "mode must be"),
    ({"unknown": [["error", [0, 1], [[1.0]], ""]]}, "one list of known values per column"),
    ({"unknown": [["error", [7], [[1.0]], ""]]}, "columns must be integers"),
    ({"unknown": [["warn", [0], [["a"]], ""]]}, "numbers or null"),
    ({"unknown": [["warn", [0], [[0.0]]]]}, "entries must be"),
])
def test_hostile_input_rules_are_refused(inputs, message, tmp_path):
    from mle_runtime import _native

    graph, meta, writer = _rules_file(tmp_path, inputs)
    data = writer.encode(dict(meta), graph, hash_key="content_hash")
    with pytest.raises(mle.FormatError, match=message):
        _native.load_buffer(data)


def test_input_rules_round_trip_canonically(roundtrip):
    X, _ = titanic(50)
    enc = OneHotEncoder().fit(X[CAT])
    proxy = roundtrip(enc)
    rules = proxy._rules()
    assert rules.encoding is not None
    assert [c for c in rules.encoding.tables] == [0, 1, 2]
    assert rules.encoding.checks[0][0] == "error"
