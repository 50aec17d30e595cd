"""Refusals that name the fitted step that is the cause, and Pipelines stored in parts
(docs/FORMAT.md, 17.6): with allow_pickle=True only the steps that cannot be stored natively
are pickled, every run of the others stays one native model."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

import mle_runtime as mle
from mle_runtime import FormatError, PickleNotAllowedError, UnsupportedModelError
from mle_runtime.format import container, values, writer
from mle_runtime.format import layout as L
from mle_runtime.runtime.chain import PipelineChain
from mle_runtime.runtime.proxies import MLEModel
from step_pickle_classes import Nearest, Shift

SHIFT = "step_pickle_classes.Shift"
NEAREST = "step_pickle_classes.Nearest"
FT = "sklearn.preprocessing._function_transformer.FunctionTransformer"


def _dumped(value, allow_pickle=True):
    buf = io.BytesIO()
    mle.dump(value, buf, allow_pickle=allow_pickle)
    return buf.getvalue()


def _roundtrip(value):
    data = _dumped(value)
    return mle.load(io.BytesIO(data), allow_pickle=True), data


def _contents(data):
    return container.parse(data).json(L.SECTION_META)["contents"]


def _refusal(value):
    with pytest.raises(UnsupportedModelError) as e:
        mle.dump(value, io.BytesIO())
    return str(e.value)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _lr():
    return LogisticRegression(max_iter=2000)


# --------------------------------------------------------------------- refusals -------------

def test_refusal_names_the_step_in_a_pipeline(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), Shift(), _lr()).fit(X, y)
    msg = _refusal(pipe)
    assert msg.startswith(f"value.steps[1][1] (a {SHIFT}) cannot be stored natively: ")
    assert "allow_pickle=True" in msg
    assert _refusal({"m": pipe}).startswith(f"value['m'].steps[1][1] (a {SHIFT})")


def test_refusal_names_the_step_of_a_nested_pipeline(iris):
    X, y = iris
    inner = Pipeline([("s", StandardScaler()), ("f", FunctionTransformer(lambda a: a * 2))])
    pipe = Pipeline([("pre", inner), ("lr", _lr())]).fit(X, y)
    msg = _refusal(pipe)
    assert msg.startswith(f"value.steps[0][1].steps[1][1] (a {FT}) cannot be stored natively: "
                          "FunctionTransformer(func=<lambda>) is not supported")


def test_refusal_names_the_transformer_inside_a_column_transformer(iris):
    X, y = iris
    ct = ColumnTransformer([("a", StandardScaler(), [0, 1]), ("b", Shift(), [2, 3])])
    pipe = Pipeline([("ct", ct), ("lr", _lr())]).fit(X, y)
    assert _refusal(pipe).startswith(f"value.steps[0][1].transformers_[1][1] (a {SHIFT})")
    # the fitted clone (transformers_), not the unfitted template (transformers)
    assert pipe[0].transformers_[1][1] is not ct.transformers[1][1]


def test_refusal_names_the_transformer_inside_a_feature_union(iris):
    X, y = iris
    fu = FeatureUnion([("a", StandardScaler()), ("b", FunctionTransformer(np.rint)),
                       ("c", MinMaxScaler())])
    pipe = make_pipeline(fu, _lr()).fit(X, y)
    assert _refusal(pipe).startswith(f"value.steps[0][1].transformer_list[1][1] (a {FT})")


def test_refusal_names_voting_and_stacking_members(iris):
    X, y = iris
    vote = VotingClassifier([("lr", _lr()), ("n", Nearest())], voting="soft").fit(X, y)
    assert _refusal(vote).startswith(f"value.estimators_[1] (a {NEAREST})")
    stack = StackingClassifier([("n", Nearest()), ("lr", _lr())], final_estimator=_lr(),
                               cv=3).fit(X, y)
    assert _refusal(stack).startswith(f"value.estimators_[0] (a {NEAREST})")
    final = StackingClassifier([("lr", _lr())], final_estimator=Nearest(), cv=3).fit(X, y)
    assert _refusal(final).startswith(f"value.final_estimator_ (a {NEAREST})")


def test_refusal_names_the_step_of_a_search_best_estimator(iris):
    X, y = iris
    search = GridSearchCV(make_pipeline(StandardScaler(), Shift(), _lr()),
                          {"logisticregression__C": [0.5, 1.0]}, cv=3).fit(X, y)
    assert _refusal(search).startswith(f"value.best_estimator_.steps[1][1] (a {SHIFT})")


def test_refusal_gives_the_reason_of_the_step_that_fails_in_the_pipeline():
    """A step that could not be stored on its own (a TfidfTransformer, without the vectorizer
    before it) is not blamed for what another step of the pipeline causes."""
    docs = ["the cat sat", "a dog ran", "the dog sat down", "cats and dogs", "a cat ran"] * 4
    y = np.arange(len(docs)) % 2
    pipe = make_pipeline(CountVectorizer(), TfidfTransformer(),
                         FunctionTransformer(lambda a: a, accept_sparse=True), _lr())
    pipe.fit(docs, y)
    msg = _refusal(pipe)
    assert msg.startswith(f"value.steps[2][1] (a {FT}) cannot be stored natively: "
                          "FunctionTransformer(func=<lambda>) is not supported"), msg
    assert "TfidfTransformer" not in msg.splitlines()[0]


def test_refusal_of_the_pipeline_itself_names_the_pipeline(iris):
    X, _ = iris
    pipe = make_pipeline(Shift()).fit(X)
    msg = _refusal(pipe)
    assert msg.startswith(f"value.steps[0][1] (a {SHIFT})")


# --------------------------------------------------------------------- stored in parts ------

def _check_same(loaded, pipe, X, methods=("predict", "predict_proba", "decision_function")):
    for name in methods:
        if not hasattr(pipe, name):
            assert not hasattr(loaded, name)
            continue
        want, got = getattr(pipe, name)(X), getattr(loaded, name)(X)
        if np.asarray(want).dtype.kind in "fc":
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        else:
            np.testing.assert_array_equal(got, want)


def test_only_the_unsupported_step_is_pickled(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), PCA(3), Shift(), MinMaxScaler(), _lr()).fit(X, y)
    loaded, data = _roundtrip(pipe)
    assert isinstance(loaded, PipelineChain)
    assert [name for name, _ in loaded.steps] == [
        "standardscaler+pca", "shift", "minmaxscaler+logisticregression"]
    assert loaded.step_names == [["standardscaler", "pca"], ["shift"],
                                 ["minmaxscaler", "logisticregression"]]
    first, middle, last = (p for _, p in loaded.steps)
    assert type(first) is MLEModel and type(last) is MLEModel and type(middle) is Shift
    np.testing.assert_array_equal(middle.mean_, pipe[2].mean_)
    c = _contents(data)
    assert c["pickled"] == [{"path": "value.steps[2][1]", "type": SHIFT}]
    assert [m["path"] for m in c["models"]] == ["value[0:2]", "value[3:5]"]
    assert c["chains"] == [{"path": "value", "parts": [
        {"steps": ["standardscaler", "pca"], "stored": "native"},
        {"steps": ["shift"], "stored": "pickle"},
        {"steps": ["minmaxscaler", "logisticregression"], "stored": "native"}]}]
    assert container.parse(data).minor == L.MINOR_CHAIN
    _check_same(loaded, pipe, X)
    _check_same(loaded, pipe, X[:1])
    _check_same(loaded, pipe, X.astype(np.float32))
    np.testing.assert_allclose(loaded.predict_log_proba(X), pipe.predict_log_proba(X),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(loaded.classes_, pipe.classes_)
    assert loaded.n_features_in_ == 4
    assert loaded.score(X, y) == pipe.score(X, y)
    w = np.linspace(0.5, 2, len(y))
    assert loaded.score(X, y, sample_weight=w) == pipe.score(X, y, sample_weight=w)
    assert loaded._estimator_type == "classifier"
    assert not hasattr(loaded, "transform")  # nor has the Pipeline: its last step has none
    with pytest.raises(PickleNotAllowedError, match=r"value.steps\[2\]\[1\] \(step_pickle"):
        mle.load(io.BytesIO(data))


def test_sklearn_tools_accept_the_loaded_pipeline(iris):
    from sklearn.base import is_classifier
    from sklearn.metrics import get_scorer

    X, y = iris
    pipe = make_pipeline(StandardScaler(), Shift(), _lr()).fit(X, y)
    loaded, _ = _roundtrip(pipe)
    assert is_classifier(loaded)
    for name in ("accuracy", "neg_log_loss", "roc_auc_ovr", "f1_macro"):
        assert get_scorer(name)(loaded, X, y) == pytest.approx(get_scorer(name)(pipe, X, y),
                                                               rel=1e-12)


def test_dataframe_input_and_nan(iris):
    X, y = iris
    X = X.copy()
    X[::7, 1] = np.nan
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    pipe = make_pipeline(SimpleImputer(), Shift(), StandardScaler(), _lr()).fit(df, y)
    loaded, _ = _roundtrip(pipe)
    _check_same(loaded, pipe, df)
    _check_same(loaded, pipe, df.iloc[[7]])
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]


def test_regressor_and_ties():
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), FunctionTransformer(lambda a: np.round(a, 1)),
                         Ridge(alpha=0.5)).fit(X, y)
    loaded, _ = _roundtrip(pipe)
    _check_same(loaded, pipe, X, ("predict",))
    assert loaded.score(X, y) == pytest.approx(pipe.score(X, y), rel=1e-12)
    assert loaded._estimator_type == "regressor"
    assert not hasattr(loaded, "predict_proba") and not hasattr(pipe, "predict_proba")


def test_pickled_final_step(iris):
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), PCA(5), Nearest()).fit(X, y)
    loaded, data = _roundtrip(pipe)
    assert [type(p) for _, p in loaded.steps] == [MLEModel, Nearest]
    _check_same(loaded, pipe, X, ("predict", "predict_proba"))
    np.testing.assert_array_equal(loaded.classes_, pipe.classes_)
    assert not hasattr(loaded, "decision_function")
    assert loaded.score(X, y) == pipe.score(X, y)


def test_transformer_pipeline(iris):
    X, _ = iris
    pipe = make_pipeline(StandardScaler(), Shift(), PCA(2)).fit(X)
    loaded, _ = _roundtrip(pipe)
    np.testing.assert_allclose(loaded.transform(X), pipe.transform(X), rtol=1e-9, atol=1e-12)
    assert not hasattr(loaded, "predict")


def test_nested_pipeline_is_split_too(iris):
    X, y = iris
    inner = Pipeline([("s", StandardScaler()), ("f", Shift()), ("m", MinMaxScaler())])
    pipe = Pipeline([("pre", inner), ("pca", PCA(3)), ("lr", _lr())]).fit(X, y)
    loaded, data = _roundtrip(pipe)
    assert [n for n, _ in loaded.steps] == ["pre", "pca+lr"]
    nested = loaded.steps[0][1]
    assert isinstance(nested, PipelineChain)
    assert [type(p) for _, p in nested.steps] == [MLEModel, Shift, MLEModel]
    _check_same(loaded, pipe, X)
    c = _contents(data)
    assert c["pickled"] == [{"path": "value.steps[0][1].steps[1][1]", "type": SHIFT}]
    assert [ch["path"] for ch in c["chains"]] == ["value.steps[0][1]", "value"]


def test_unsupported_transformer_in_a_column_transformer_pickles_that_step(iris):
    """The smallest unit split is a Pipeline's step: a ColumnTransformer with a transformer
    that cannot be stored natively is pickled whole, the rest of the Pipeline stays native."""
    X, y = iris
    ct = ColumnTransformer([("a", StandardScaler(), [0, 1]), ("b", Shift(), [2, 3])])
    pipe = Pipeline([("ct", ct), ("pca", PCA(3)), ("lr", _lr())]).fit(X, y)
    loaded, data = _roundtrip(pipe)
    assert [n for n, _ in loaded.steps] == ["ct", "pca+lr"]
    assert type(loaded.steps[0][1]) is ColumnTransformer
    assert _contents(data)["pickled"] == [
        {"path": "value.steps[0][1]", "type": "sklearn.compose._column_transformer."
                                              "ColumnTransformer",
         "because": f"value.steps[0][1].transformers_[1][1] ({SHIFT})"}]
    _check_same(loaded, pipe, X)


def test_passthrough_steps_and_only_pickled_steps(iris):
    X, y = iris
    pipe = Pipeline([("s", StandardScaler()), ("skip", "passthrough"), ("f", Shift()),
                     ("none", None), ("lr", _lr())]).fit(X, y)
    loaded, _ = _roundtrip(pipe)
    assert [n for n, _ in loaded.steps] == ["s+skip", "f", "none+lr"]
    _check_same(loaded, pipe, X)
    # nothing would stay native: the Pipeline is pickled whole, as before
    only = make_pipeline(Shift(), Nearest()).fit(X, y)
    loaded, data = _roundtrip(only)
    assert type(loaded) is Pipeline
    assert _contents(data)["pickled"][0]["path"] == "value"


def test_in_a_value_with_shared_objects(iris):
    X, y = iris
    shift = Shift().fit(X)
    pipe = Pipeline([("s", StandardScaler()), ("f", shift), ("lr", _lr())]).fit(X, y)
    out, data = _roundtrip({"pipe": pipe, "shift": shift, "again": pipe})
    assert out["again"] is out["pipe"] and out["pipe"].steps[1][1] is out["shift"]
    _check_same(out["pipe"], pipe, X)


def test_search_around_a_pipeline_is_pickled_whole(iris):
    X, y = iris
    search = GridSearchCV(make_pipeline(StandardScaler(), Shift(), _lr()),
                          {"logisticregression__C": [0.5, 1.0]}, cv=3).fit(X, y)
    loaded, data = _roundtrip(search)
    assert type(loaded) is GridSearchCV
    assert _contents(data)["pickled"] == [{
        "path": "value", "type": "sklearn.model_selection._search.GridSearchCV",
        "because": f"value.best_estimator_.steps[1][1] ({SHIFT})"}]


def test_a_loaded_chain_is_stored_again(iris, tmp_path):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), Shift(), _lr()).fit(X, y)
    loaded, _ = _roundtrip(pipe)
    msg = _refusal(loaded)
    assert msg.startswith(f"value.steps[1][1] (a {SHIFT})")
    again, data = _roundtrip(loaded)
    assert isinstance(again, PipelineChain) and again.step_names == loaded.step_names
    assert _contents(data)["chains"][0]["parts"][1] == {"steps": ["shift"], "stored": "pickle"}
    _check_same(again, pipe, X)
    assert mle.dump(loaded, tmp_path / "c.mle", allow_pickle=True)
    _check_same(mle.load(tmp_path / "c.mle", allow_pickle=True, mmap_mode="r"), pipe, X)


def test_chain_slicing_and_indexing(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), Shift(), _lr()).fit(X, y)
    loaded, _ = _roundtrip(pipe)
    assert len(loaded) == 3 and type(loaded[1]) is Shift and loaded["shift"] is loaded[1]
    head = loaded[:2]
    np.testing.assert_allclose(head.transform(X), pipe[:2].transform(X), rtol=1e-12)
    assert "PipelineChain" in repr(loaded)
    with pytest.raises(mle.ReadOnlyModelError, match="read-only"):
        loaded.fit(X, y)


# --------------------------------------------------------------------- hostile files --------

def _chain_file(root, tmp_path=None):
    """A value file with a pickle section of two Shift objects and one native model, whose
    value section is ``root``."""
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), Shift(), _lr()).fit(X, y)
    data = _dumped(pipe)
    c = container.parse(data)
    tree = c.json(L.SECTION_VALUE)
    tree["root"] = root(tree["root"])
    tree["memo"] = _count_memo(tree["root"])
    sections = []
    for s in c.sections:
        payload = bytes(c.payload(s))
        if s.kind == L.SECTION_VALUE:
            payload = writer.encode_json(tree)
        sections.append((s.kind, payload, L.DATA_ALIGN) if s.kind in (L.SECTION_DATA,
                                                                       L.SECTION_MODEL)
                        else (s.kind, payload))
    return writer.pack_sections(sections, minor=L.MINOR_CHAIN)


def _count_memo(node):
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        return 0
    if node[0] == "chain":
        n = sum(_count_memo(p[1]) for p in node[1] if isinstance(p, list) and len(p) == 2)
        return n + 1
    if node[0] in ("model", "pickle"):
        return 1
    if node[0] == "list":
        return 1 + sum(_count_memo(x) for x in node[1:])
    return 0


def _load(data):
    return mle.load(io.BytesIO(data), allow_pickle=True)


def test_the_file_as_written_loads():
    loaded = _load(_chain_file(lambda r: r))
    assert isinstance(loaded, PipelineChain)


@pytest.mark.parametrize("edit, match", [
    (lambda r: ["chain", []], "1 to 4096 parts"),
    (lambda r: ["chain", {}], "wrong type"),
    (lambda r: ["chain", r[1], 1], "parts"),
    (lambda r: ["chain", [[[], r[1][0][1]]]], "non-empty names"),
    (lambda r: ["chain", [[[""], r[1][0][1]]]], "non-empty names"),
    (lambda r: ["chain", [[["a", 1], r[1][0][1]]]], "non-empty names"),
    (lambda r: ["chain", [["a", r[1][0][1]]]], "non-empty names"),
    (lambda r: ["chain", [[["a"], r[1][0][1]], [["a"], r[1][1][1]]]], "names a step twice"),
    (lambda r: ["chain", [[["a", "a"], r[1][0][1]]]], "names a step twice"),
    (lambda r: ["chain", [[["a"], 3]]], "a model, pickle, chain or ref node"),
    (lambda r: ["chain", [[["a"], ["list", 1, 2]]]], "a model, pickle, chain or ref node"),
    (lambda r: ["list", ["list"], ["chain", [[["a"], ["ref", 0]]]]], "not a model"),
    (lambda r: ["chain", [[["a"], ["model", 7]]]], "model 7 does not exist"),
    (lambda r: ["chain", [[["a"], ["pickle", 9]]]], "out of range"),
    (lambda r: ["chain", [[["a"], ["chain", [[["b"], ["ref", 5]]]]]]], "not yet read"),
])
def test_hostile_chain_nodes_are_refused(edit, match):
    data = _chain_file(edit)
    with pytest.raises(FormatError, match=re.escape(match) if "(" in match else match):
        _load(data)


def test_a_chain_node_deeper_than_the_limit_is_refused():
    def deep(r):
        node = r[1][0][1]
        for i in range(values.MAX_DEPTH + 5):
            node = ["chain", [[[f"s{i}"], node]]]
        return node

    with pytest.raises(FormatError, match="nests more than"):
        _load(_chain_file(deep))


def test_readers_without_chains_refuse_the_node_cleanly():
    from mle_runtime import api

    data = _chain_file(lambda r: r)
    hooks = api.value_hooks()
    old = values.Hooks(hooks.loaded, hooks.is_model, hooks.export, hooks.wrap_model,
                       hooks.pickle_dumps, hooks.pickle_loads)
    with pytest.raises(FormatError, match="'chain' node"):
        values.decode(container.parse(data), hooks=old, allow_pickle=True)


def test_metadata_describes_chains_and_the_reader_ignores_it():
    data = _dumped(make_pipeline(StandardScaler(), Shift(), _lr()).fit(*load_iris(
        return_X_y=True)))
    meta = container.parse(data).json(L.SECTION_META)
    assert json.loads(json.dumps(meta["contents"]["chains"]))[0]["path"] == "value"
    assert "1 pickled object" in meta["summary"] and "2 model" in meta["summary"]


class _NoFeatureCount(Shift):
    """A transformer of the user's own that records no n_features_in_."""

    def fit(self, X, y=None):
        super().fit(X)
        del self.n_features_in_
        return self


def test_a_first_step_of_the_users_own_is_named(iris):
    X, y = iris
    pipe = make_pipeline(_NoFeatureCount(), StandardScaler(), _lr()).fit(X, y)
    msg = _refusal(pipe)
    assert msg.startswith(f"value.steps[0][1] (a {__name__}._NoFeatureCount) cannot be stored "
                          f"natively: {__name__}._NoFeatureCount is not a scikit-learn class")
    assert _refusal(Shift().fit(X)).startswith(f"value (a {SHIFT}) cannot be stored natively: "
                                               f"{SHIFT} is not a scikit-learn class")
